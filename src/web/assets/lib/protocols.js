// @ts-check
// The client protocols the playground can speak: each builds its streamed
// request from the thread and reads its own events back into the same
// pieces (text, sources, conversation, error), so that an admin sees one
// answer through every face of the pipeline.

/**
 * @typedef {{ role: string, content: string }} Turn
 * @typedef {{ delta?: string, sources?: any[], conversation?: string, error?: string }} Piece
 * @typedef {{
 *   id: string,
 *   label: string,
 *   short: string,
 *   request: (model: string, history: Turn[], secret: string) => { url: string, headers: Record<string, string>, body: any },
 *   read: (event: any) => Piece,
 * }} Protocol
 */

/** @type {Protocol[]} */
export const PROTOCOLS = [
  {
    id: 'chat',
    label: 'OpenAI · /v1/chat/completions',
    short: 'OpenAI chat',
    request: (model, history, secret) => ({
      url: '/v1/chat/completions',
      headers: { Authorization: 'Bearer ' + secret },
      body: { model, messages: history, stream: true },
    }),
    read: (event) => {
      if (event.error) return { error: event.error.message || '' };
      const choice = event.choices && event.choices[0];
      return {
        delta: choice && choice.delta && choice.delta.content,
        sources: Array.isArray(event.sources) ? event.sources : undefined,
        conversation: event.conversation_id,
      };
    },
  },
  {
    id: 'responses',
    label: 'OpenAI Responses · /v1/responses',
    short: 'Responses',
    request: (model, history, secret) => ({
      url: '/v1/responses',
      headers: { Authorization: 'Bearer ' + secret },
      body: { model, input: history, stream: true, store: false },
    }),
    read: (event) => {
      switch (event.type) {
        case 'response.output_text.delta': return { delta: event.delta };
        case 'response.completed':
        case 'response.incomplete': {
          const extra = event.response && event.response.ragway;
          return { sources: extra && extra.sources, conversation: extra && extra.conversation_id };
        }
        case 'response.failed': {
          const error = event.response && event.response.error;
          return { error: (error && error.message) || '' };
        }
        case 'error': return { error: event.message || '' };
        default: return {};
      }
    },
  },
  {
    id: 'anthropic',
    label: 'Anthropic · /v1/messages',
    short: 'Anthropic',
    request: (model, history, secret) => ({
      url: '/v1/messages',
      headers: { 'x-api-key': secret, 'anthropic-version': '2023-06-01' },
      body: { model, max_tokens: 4096, messages: history, stream: true },
    }),
    read: (event) => {
      if (event.type === 'error') return { error: (event.error && event.error.message) || '' };
      if (event.type === 'content_block_delta' && event.delta && event.delta.type === 'text_delta') {
        return { delta: event.delta.text };
      }
      if (event.type === 'message_delta') return { sources: event.sources, conversation: event.conversation_id };
      return {};
    },
  },
  {
    id: 'gemini',
    label: 'Gemini · /v1beta/models/…:streamGenerateContent',
    short: 'Gemini',
    request: (model, history, secret) => ({
      url: '/v1beta/models/' + encodeURI(model) + ':streamGenerateContent?alt=sse',
      headers: { 'x-goog-api-key': secret },
      body: {
        contents: history.map((turn) => ({
          role: turn.role === 'assistant' ? 'model' : 'user',
          parts: [{ text: turn.content }],
        })),
      },
    }),
    read: (event) => {
      if (event.error) return { error: event.error.message || '' };
      const candidate = event.candidates && event.candidates[0];
      const parts = (candidate && candidate.content && candidate.content.parts) || [];
      const text = parts.map((/** @type {any} */ p) => p.text || '').join('');
      const extra = event.ragway;
      return { delta: text, sources: extra && extra.sources, conversation: extra && extra.conversation_id };
    },
  },
];

/**
 * The protocol of `id` (the chat completions one for an unknown id).
 * @param {string | null | undefined} id
 * @returns {Protocol}
 */
export function protocolOf(id) {
  return PROTOCOLS.find((p) => p.id === id) || PROTOCOLS[0];
}

/**
 * The error message of a refused request's body, in any protocol's shape.
 * @param {any} data
 * @returns {string | null}
 */
export function refusal(data) {
  if (!data || typeof data !== 'object') return null;
  const error = data.error;
  if (error && typeof error.message === 'string') return error.message;
  return null;
}
