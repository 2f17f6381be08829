"""The official `anthropic` package against ragway's /v1/messages: a message,
a stream, tool use, a continued conversation, sources, and errors.

Run by the Rust integration test `clients::the_anthropic_python_sdk_works_unchanged`,
which starts ragway and passes RAGWAY_BASE_URL (without /v1), RAGWAY_API_KEY
and RAGWAY_MODEL.
"""

import os
import sys

try:
    import anthropic
except ImportError:
    sys.exit("the `anthropic` package is missing: pip install anthropic (the README's test command does it)")

base_url = os.environ["RAGWAY_BASE_URL"]
model = os.environ["RAGWAY_MODEL"]
client = anthropic.Anthropic(base_url=base_url, api_key=os.environ["RAGWAY_API_KEY"], max_retries=0)

question = "When does the lighthouse keeper log the tide?"
message = client.messages.create(
    model=model,
    max_tokens=256,
    system="Answer from the sources.",
    messages=[{"role": "user", "content": question}],
)
assert message.type == "message" and message.role == "assistant", message
assert message.model == model, message.model
assert message.content[0].type == "text", message.content
assert message.content[0].text == "Echo: " + question, message.content[0].text
assert message.stop_reason == "end_turn", message.stop_reason
assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0, message.usage
extra = message.model_extra or {}
assert extra["sources"][0]["title"] == "Lighthouse", extra
conversation = extra["conversation_id"]
assert conversation

# The same answer streamed: the SDK's own event parser and accumulator.
with client.messages.stream(
    model=model, max_tokens=256, messages=[{"role": "user", "content": question}]
) as stream:
    kinds = []
    for event in stream:
        kinds.append(event.type)
    final = stream.get_final_message()
assert "".join(b.text for b in final.content if b.type == "text") == message.content[0].text, final
assert final.stop_reason == "end_turn", final.stop_reason
assert final.usage.output_tokens > 0, final.usage
assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
assert "content_block_delta" in kinds, kinds

# Raw events: the sources ride on the message_delta.
raw = client.messages.create(
    model=model, max_tokens=64, stream=True, messages=[{"role": "user", "content": question}]
)
deltas = [e for e in raw if e.type == "message_delta"]
assert deltas and (deltas[0].model_extra or {}).get("sources"), deltas
# The newest conversation with this history is the one to continue.
conversation = deltas[0].model_extra["conversation_id"]

# A client that resends the history continues the (newest) conversation it matches.
follow = client.messages.with_raw_response.create(
    model=model,
    max_tokens=64,
    messages=[
        {"role": "user", "content": question},
        {"role": "assistant", "content": message.content[0].text},
        {"role": "user", "content": "And in the evening?"},
    ],
)
assert follow.headers.get("x-conversation-id") == conversation, (follow.headers, conversation)
assert follow.parse().content[0].text == "Echo: And in the evening?"

# Tool use both ways: the fake upstream calls a tool when the question asks for the weather.
tools = [{
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
asked = client.messages.create(
    model=model, max_tokens=64, tools=tools,
    messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
)
assert asked.stop_reason == "tool_use", asked
use = next(b for b in asked.content if b.type == "tool_use")
assert use.name == "get_weather" and isinstance(use.input, dict), use
with client.messages.stream(
    model=model, max_tokens=64, tools=tools,
    messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
) as stream:
    streamed = stream.get_final_message()
streamed_use = next(b for b in streamed.content if b.type == "tool_use")
assert streamed_use.name == "get_weather" and streamed_use.input == use.input, streamed_use
answered = client.messages.create(
    model=model, max_tokens=64, tools=tools,
    messages=[
        {"role": "user", "content": "What is the weather in Oslo?"},
        {"role": "assistant", "content": [b.model_dump() for b in asked.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Rain, 4 °C"}]},
    ],
)
assert answered.content[0].type == "text", answered

try:
    client.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("unknown model accepted")
except anthropic.NotFoundError as err:
    assert err.body["error"]["type"] == "not_found_error", err.body

try:
    anthropic.Anthropic(base_url=base_url, api_key="sk-wrong", max_retries=0).messages.create(
        model=model, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("wrong key accepted")
except anthropic.AuthenticationError as err:
    assert err.body["error"]["type"] == "authentication_error", err.body

try:
    client.messages.create(model=model, max_tokens=8, messages=[])
    raise AssertionError("empty messages accepted")
except anthropic.BadRequestError as err:
    assert err.body["type"] == "error", err.body

print("anthropic sdk: all checks passed")
