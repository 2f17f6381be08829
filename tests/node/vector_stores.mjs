// The official `openai` Node package against ragway's Files and Vector
// Stores APIs: one upload-and-poll into a store, a search with an
// attribute filter, and a streamed response with the file_search tool
// (the package's stream helper checks the event sequence strictly).
//
// Run by the Rust integration test `clients::the_openai_node_package_uses_vector_stores`,
// which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY,
// RAGWAY_OTHER_KEY and RAGWAY_MODEL.
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";

const baseURL = process.env.RAGWAY_BASE_URL;
const model = process.env.RAGWAY_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.RAGWAY_API_KEY, maxRetries: 0 });

const store = await client.vectorStores.create({ name: "harbour" });
const file = await client.vectorStores.files.uploadAndPoll(
  store.id,
  await toFile(Buffer.from("# Pilots\nHarbour pilots board at the outer buoy."), "pilots.md"),
);
assert.equal(file.status, "completed");
await client.vectorStores.files.update(file.id, { vector_store_id: store.id, attributes: { dept: "pilots" } });

const page = await client.vectorStores.search(store.id, {
  query: "where do pilots board",
  filters: { type: "eq", key: "dept", value: "pilots" },
});
assert.equal(page.data[0].file_id, file.id);
assert.equal(page.data[0].filename, "pilots.md");
assert.match(page.data[0].content[0].text, /outer buoy/);
const none = await client.vectorStores.search(store.id, {
  query: "where do pilots board",
  filters: { type: "eq", key: "dept", value: "tugs" },
});
assert.equal(none.data.length, 0);

const stream = client.responses.stream({
  model,
  input: "Where do harbour pilots board?",
  tools: [{ type: "file_search", vector_store_ids: [store.id] }],
});
const kinds = [];
for await (const event of stream) kinds.push(event.type);
const response = await stream.finalResponse();
assert.ok(kinds.includes("response.file_search_call.completed"), kinds.join(" "));
assert.equal(response.output[0].type, "file_search_call");
const citations = response.output[1].content[0].annotations;
assert.equal(citations[0].file_id, file.id);
console.log("openai node vector stores: all checks passed");
