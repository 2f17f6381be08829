"""The official `openai` package against ragway: models.list, chat, chat stream, errors.

Run by the Rust integration test `clients::the_openai_python_sdk_works_unchanged`,
which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY and RAGWAY_MODEL.
"""

import os
import sys

try:
    import openai
except ImportError:
    sys.exit("the `openai` package is missing: pip install openai (the README's test command does it)")

base_url = os.environ["RAGWAY_BASE_URL"]
model = os.environ["RAGWAY_MODEL"]
client = openai.OpenAI(base_url=base_url, api_key=os.environ["RAGWAY_API_KEY"], max_retries=0)

ids = [m.id for m in client.models.list()]
assert model in ids, ids

question = "When does the lighthouse keeper log the tide?"
answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
text = answer.choices[0].message.content
assert text == "Echo: " + question, text
assert answer.model == model, answer.model
sources = answer.model_extra.get("sources") or []
assert sources and sources[0]["title"] == "Lighthouse", sources

stream = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": question}], stream=True
)
pieces = []
finish = None
streamed_sources = None
conversation_id = None
for chunk in stream:
    if chunk.choices:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    extra = chunk.model_extra or {}
    if "sources" in extra:
        streamed_sources = extra["sources"]
        conversation_id = extra.get("conversation_id")
assert "".join(pieces) == text, pieces
assert finish == "stop", finish
assert streamed_sources and streamed_sources[0]["title"] == "Lighthouse", streamed_sources
assert conversation_id, "the sources chunk names the conversation"

# Usage on request, as OpenAI sends it: a last chunk with empty choices.
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": question}],
    stream=True,
    stream_options={"include_usage": True},
)
usage = [chunk.usage for chunk in stream if chunk.usage]
assert usage and usage[0].total_tokens > 0, usage

# A stateful client resends the history and stays in one conversation.
raw = client.chat.completions.with_raw_response.create(
    model=model,
    messages=[
        {"role": "user", "content": question},
        {"role": "assistant", "content": text},
        {"role": "user", "content": "And in the evening?"},
    ],
)
continued = raw.headers.get("x-conversation-id")
assert continued, "X-Conversation-Id is sent"
assert raw.parse().model_extra["conversation_id"] == continued

try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("unknown model accepted")
except openai.NotFoundError as err:
    assert err.code == "model_not_found", err.code

try:
    openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0).models.list()
    raise AssertionError("wrong key accepted")
except openai.AuthenticationError:
    pass

# Embeddings for the client's own texts: the SDK asks for base64 and decodes it.
texts = ["The lighthouse keeper logs the tide.", "When is the tide logged?", "Apple pie."]
embedded = client.embeddings.create(model=os.environ.get("RAGWAY_EMBED_MODEL", "BAAI/bge-large-zh-v1.5"), input=texts)
vectors = [item.embedding for item in embedded.data]
assert len(vectors) == 3 and all(len(v) == len(vectors[0]) > 0 for v in vectors), [len(v) for v in vectors]
def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)
assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]), "related texts are closer"
assert embedded.usage.prompt_tokens > 0, embedded.usage
floats = client.embeddings.create(model=embedded.model, input=texts[0], encoding_format="float")
assert max(abs(x - y) for x, y in zip(floats.data[0].embedding, vectors[0])) < 1e-6

print("openai sdk: all checks passed")
