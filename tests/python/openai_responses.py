"""The official `openai` package's Responses API against ragway: create,
stream (raw events and the SDK's stream helper), previous_response_id,
function tools, retrieve, input items, delete, store=False and errors.

Run by the Rust integration test `clients::the_openai_python_sdk_speaks_responses`,
which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY, RAGWAY_OTHER_KEY
(another key) and RAGWAY_MODEL.
"""

import json
import os
import sys

try:
    import openai
except ImportError:
    sys.exit("the `openai` package is missing: pip install openai (the README's test command does it)")

client = openai.OpenAI(base_url=os.environ["RAGWAY_BASE_URL"], api_key=os.environ["RAGWAY_API_KEY"], max_retries=0)
model = os.environ["RAGWAY_MODEL"]
question = "When does the lighthouse keeper log the tide?"

first = client.responses.create(model=model, input=question, instructions="Be brief.")
assert first.status == "completed", first.status
assert first.output_text == "Echo: " + question, first.output_text
assert first.usage.total_tokens > 0, first.usage
annotations = first.output[0].content[0].annotations
assert annotations and annotations[0].type == "file_citation", annotations
assert annotations[0].filename == "Lighthouse", annotations
extra = first.model_extra["ragway"]
assert extra["sources"][0]["title"] == "Lighthouse", extra
conversation = extra["conversation_id"]

# Continued by id: the same conversation, the history kept server-side.
second = client.responses.create(model=model, input="And in the evening?", previous_response_id=first.id)
assert second.output_text == "Echo: And in the evening?", second.output_text
assert second.previous_response_id == first.id
assert second.model_extra["ragway"]["conversation_id"] == conversation
items = client.responses.input_items.list(second.id)
assert [item.content[0].text for item in items.data] == ["And in the evening?"], items

# Raw events: typed, in order, the text whole at the end.
events = list(client.responses.create(model=model, input=question, stream=True))
kinds = [event.type for event in events]
assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
assert [event.sequence_number for event in events] == list(range(len(events)))
streamed = "".join(event.delta for event in events if event.type == "response.output_text.delta")
assert streamed == "Echo: " + question, streamed
assert events[-1].response.output_text == streamed

# The SDK's stream helper assembles the same response.
with client.responses.stream(model=model, input=question) as stream:
    for _ in stream:
        pass
    final = stream.get_final_response()
assert final.output_text == streamed, final.output_text

# Function tools: a call goes out as an item, its output comes back.
tool = {
    "type": "function",
    "name": "lookup",
    "description": "Look something up.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}
asked = client.responses.create(model=model, input="the tide log", tools=[tool])
call = asked.output[0]
assert call.type == "function_call", asked.output
assert json.loads(call.arguments) == {"q": "the tide log"}, call.arguments
answered = client.responses.create(
    model=model,
    tools=[tool],
    previous_response_id=asked.id,
    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "six o'clock"}],
)
assert answered.output_text == "Echo: the tide log", answered.output_text

# Kept responses: read back by their key alone, deleted; unkept ones never kept.
assert client.responses.retrieve(first.id).output_text == first.output_text
other = openai.OpenAI(base_url=os.environ["RAGWAY_BASE_URL"], api_key=os.environ["RAGWAY_OTHER_KEY"], max_retries=0)
for attempt in (lambda: other.responses.retrieve(first.id), lambda: other.responses.input_items.list(first.id),
                lambda: other.responses.create(model=model, input="hi", previous_response_id=first.id)):
    try:
        attempt()
        raise AssertionError("another key read a stored response")
    except openai.NotFoundError:
        pass
client.responses.delete(first.id)
try:
    client.responses.retrieve(first.id)
    raise AssertionError("a deleted response was found")
except openai.NotFoundError:
    pass
unkept = client.responses.create(model=model, input=question, store=False)
try:
    client.responses.retrieve(unkept.id)
    raise AssertionError("a store=False response was kept")
except openai.NotFoundError:
    pass

try:
    client.responses.create(model=model, input=question, tools=[{"type": "web_search"}])
    raise AssertionError("an unsupported tool was accepted")
except openai.BadRequestError as err:
    assert "web_search" in str(err), err

print("openai responses: all checks passed")
