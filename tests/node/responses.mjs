// The official `openai` Node package against ragway's Responses API: the
// raw event stream and the package's `responses.stream` helper (whose event
// parser checks the sequence strictly), a continued response, and another
// key kept out.
//
// Run by the Rust integration test `clients::the_openai_node_package_streams_responses`,
// which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY,
// RAGWAY_OTHER_KEY and RAGWAY_MODEL.
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.RAGWAY_BASE_URL;
const model = process.env.RAGWAY_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.RAGWAY_API_KEY, maxRetries: 0 });
const question = "When does the lighthouse keeper log the tide?";

// The raw events: typed, numbered in order, the text whole at the end.
const events = [];
for await (const event of await client.responses.create({ model, input: question, stream: true })) {
  events.push(event);
}
assert.equal(events[0].type, "response.created");
assert.equal(events.at(-1).type, "response.completed");
assert.deepEqual(
  events.map((e) => e.sequence_number),
  events.map((_, i) => i),
);
const deltas = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta);
assert.equal(deltas.join(""), `Echo: ${question}`);
const completed = events.at(-1).response;
assert.equal(completed.output_text ?? completed.output[0].content[0].text, `Echo: ${question}`);
const annotation = completed.output[0].content[0].annotations[0];
assert.equal(annotation.type, "file_citation");
assert.equal(annotation.filename, "Lighthouse");

// The helper assembles the response from the events and checks them.
const stream = client.responses.stream({ model, input: question, instructions: "Be brief." });
const pieces = [];
stream.on("response.output_text.delta", (event) => pieces.push(event.delta));
const final = await stream.finalResponse();
assert.equal(pieces.join(""), `Echo: ${question}`);
assert.equal(final.output_text, `Echo: ${question}`);
assert.equal(final.status, "completed");

// Continued, streamed: the stored history goes first.
const next = client.responses.stream({ model, input: "And in the evening?", previous_response_id: final.id });
const continued = await next.finalResponse();
assert.equal(continued.output_text, "Echo: And in the evening?");
assert.equal(continued.previous_response_id, final.id);

// Another key cannot read it.
const other = new OpenAI({ baseURL, apiKey: process.env.RAGWAY_OTHER_KEY, maxRetries: 0 });
await assert.rejects(other.responses.retrieve(final.id), (err) => err.status === 404);

console.log("openai node: all checks passed");
