"""Google's `google-genai` package against ragway's Gemini API: models,
generate_content, generate_content_stream, chats (the resent history),
function declarations and responses, and errors.

Run by the Rust integration test `clients::the_google_genai_sdk_works_unchanged`,
which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY and RAGWAY_MODEL.
"""

import os
import sys

try:
    from google import genai
    from google.genai import errors, types
except ImportError:
    sys.exit("the `google-genai` package is missing: pip install google-genai (the README's test command does it)")

model = os.environ["RAGWAY_MODEL"]
client = genai.Client(
    api_key=os.environ["RAGWAY_API_KEY"],
    http_options=types.HttpOptions(base_url=os.environ["RAGWAY_BASE_URL"]),
)

names = [m.name for m in client.models.list()]
assert f"models/{model}" in names, names
assert client.models.get(model=model).name == f"models/{model}"

question = "When does the lighthouse keeper log the tide?"
answer = client.models.generate_content(
    model=model,
    contents=question,
    config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2, max_output_tokens=200),
)
assert answer.text == "Echo: " + question, answer.text
assert answer.candidates[0].finish_reason == types.FinishReason.STOP, answer.candidates[0].finish_reason
assert answer.usage_metadata.total_token_count > 0, answer.usage_metadata
citations = answer.candidates[0].citation_metadata.citations
assert citations[0].title == "Lighthouse", citations
assert "/v1/documents/" in citations[0].uri, citations
conversation = answer.sdk_http_response.headers.get("x-conversation-id")
assert conversation, answer.sdk_http_response.headers

assert client.models.count_tokens(model=model, contents=question).total_tokens > 5

pieces = [chunk.text or "" for chunk in client.models.generate_content_stream(model=model, contents=question)]
assert "".join(pieces) == "Echo: " + question, pieces
assert len(pieces) > 2, "streamed in pieces"

# A chat resends its history: ragway keeps one conversation for it.
chat = client.chats.create(model=model)
assert chat.send_message(question).text == "Echo: " + question
assert chat.send_message("And in the evening?").text == "Echo: And in the evening?"

# Function declarations go to the model; its call comes back with its args.
lookup = types.FunctionDeclaration(
    name="lookup",
    description="Look something up.",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"q": types.Schema(type=types.Type.STRING)}),
)
tools = [types.Tool(function_declarations=[lookup])]
config = types.GenerateContentConfig(
    tools=tools,
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)
asked = client.models.generate_content(model=model, contents="the tide log", config=config)
calls = asked.function_calls or []
assert calls and calls[0].name == "lookup" and calls[0].args == {"q": "the tide log"}, asked
history = [
    types.Content(role="user", parts=[types.Part(text="the tide log")]),
    asked.candidates[0].content,
    types.Content(role="user", parts=[types.Part.from_function_response(name="lookup", response={"result": "six o'clock"})]),
]
answered = client.models.generate_content(model=model, contents=history, config=config)
assert answered.text == "Echo: the tide log", answered.text

try:
    client.models.generate_content(model="no-such-model", contents="hi")
    raise AssertionError("an unknown model was accepted")
except errors.ClientError as err:
    assert err.code == 404, err

wrong = genai.Client(api_key="sk-wrong", http_options=types.HttpOptions(base_url=os.environ["RAGWAY_BASE_URL"]))
try:
    wrong.models.generate_content(model=model, contents="hi")
    raise AssertionError("a wrong key was accepted")
except errors.ClientError as err:
    assert err.code == 401 and err.status == "UNAUTHENTICATED", err

print("google-genai sdk: all checks passed")
