"""The official `openai` package's Files and Vector Stores APIs against
ragway: files.create, vector_stores.create, files.upload_and_poll with
attributes, file batches, search with an attribute filter, attribute
updates, responses.create with the file_search tool and its results and
citations, another key's ids, and delete.

Run by the Rust integration test `clients::the_openai_python_sdk_uses_vector_stores`,
which starts ragway and passes RAGWAY_BASE_URL, RAGWAY_API_KEY, RAGWAY_OTHER_KEY
(another key) and RAGWAY_MODEL.
"""

import io
import os
import sys

try:
    import openai
except ImportError:
    sys.exit("the `openai` package is missing: pip install openai (the README's test command does it)")

client = openai.OpenAI(base_url=os.environ["RAGWAY_BASE_URL"], api_key=os.environ["RAGWAY_API_KEY"], max_retries=0)
other = openai.OpenAI(base_url=os.environ["RAGWAY_BASE_URL"], api_key=os.environ["RAGWAY_OTHER_KEY"], max_retries=0)


def named(name, text):
    return (name, io.BytesIO(text.encode()), "text/markdown")


tides = client.files.create(file=named("tides.md", "# Tides\nHigh water at the harbour is at six every morning."), purpose="assistants")
assert tides.object == "file" and tides.purpose == "assistants" and tides.filename == "tides.md", tides
assert client.files.retrieve(tides.id).id == tides.id
assert b"High water" in client.files.content(tides.id).read()

store = client.vector_stores.create(name="harbour", metadata={"team": "ops"})
assert store.name == "harbour" and store.metadata == {"team": "ops"}, store

# Added with attributes, and followed until ingested.
added = client.vector_stores.files.create_and_poll(file_id=tides.id, vector_store_id=store.id, attributes={"region": "north", "year": 2024})
assert added.status == "completed", added
assert added.attributes == {"region": "north", "year": 2024}, added.attributes

# Uploaded and added in one call.
ferries = client.vector_stores.files.upload_and_poll(
    vector_store_id=store.id,
    file=named("ferries.md", "# Ferries\nThe harbour ferry sails every morning at six."),
)
assert ferries.status == "completed", ferries
client.vector_stores.files.update(file_id=ferries.id, vector_store_id=store.id, attributes={"region": "south"})

# A batch of two more files.
extra = [
    client.files.create(file=named(f"notice-{n}.md", f"Notice {n}: the harbour office opens at nine."), purpose="assistants")
    for n in range(2)
]
batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=[f.id for f in extra])
assert batch.status == "completed" and batch.file_counts.completed == 2, batch
listed = client.vector_stores.file_batches.list_files(batch_id=batch.id, vector_store_id=store.id)
assert sorted(f.id for f in listed.data) == sorted(f.id for f in extra), listed
store = client.vector_stores.retrieve(store.id)
assert store.file_counts.completed == 4 and store.status == "completed", store

# Every file of the store, a page at a time through the SDK's paginator.
assert len(list(client.vector_stores.files.list(vector_store_id=store.id, limit=1))) == 4
completed = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
assert len(completed.data) == 4, completed
content = client.vector_stores.files.content(file_id=tides.id, vector_store_id=store.id)
assert "High water" in "".join(part.text for part in content), content
renamed = client.vector_stores.update(store.id, name="harbour office", expires_after={"anchor": "last_active_at", "days": 30})
assert renamed.name == "harbour office" and renamed.expires_after.days == 30, renamed
assert store.id in {s.id for s in client.vector_stores.list()}

# Search: everything, then only what the filter admits.
results = client.vector_stores.search(vector_store_id=store.id, query="harbour every morning at six", max_num_results=10)
found = {r.file_id for r in results.data}
assert {tides.id, ferries.id} <= found, found
north = client.vector_stores.search(
    vector_store_id=store.id,
    query="harbour every morning at six",
    filters={"type": "eq", "key": "region", "value": "north"},
)
assert [r.file_id for r in north.data] == [tides.id], north
assert north.data[0].filename == "tides.md" and north.data[0].attributes["year"] == 2024, north.data[0]
assert "High water" in north.data[0].content[0].text
compound = client.vector_stores.search(
    vector_store_id=store.id,
    query="harbour",
    filters={"type": "or", "filters": [{"type": "eq", "key": "region", "value": "south"}, {"type": "gte", "key": "year", "value": 2025}]},
)
assert [r.file_id for r in compound.data] == [ferries.id], compound

# The model searches the store: a file_search_call with its results, and citations.
response = client.responses.create(
    model=os.environ["RAGWAY_MODEL"],
    input="When is high water at the harbour?",
    tools=[{"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 3}],
    include=["file_search_call.results"],
)
call = response.output[0]
assert call.type == "file_search_call" and call.status == "completed", call
assert call.queries == ["When is high water at the harbour?"], call.queries
assert tides.id in {r.file_id for r in call.results}, call.results
message = response.output[1]
citations = message.content[0].annotations
assert citations and all(c.type == "file_citation" for c in citations), citations
assert tides.id in {c.file_id for c in citations}, citations
assert "tides.md" in {c.filename for c in citations}, citations

# Another key: not found, whatever it asks.
for call in (
    lambda: other.vector_stores.retrieve(store.id),
    lambda: other.vector_stores.search(vector_store_id=store.id, query="harbour"),
    lambda: other.files.retrieve(tides.id),
    lambda: other.responses.create(
        model=os.environ["RAGWAY_MODEL"], input="x", tools=[{"type": "file_search", "vector_store_ids": [store.id]}]
    ),
):
    try:
        call()
        raise AssertionError("another key read this key's store")
    except openai.NotFoundError:
        pass

# Bad input: a clear error, in OpenAI's shape.
try:
    client.vector_stores.search(vector_store_id=store.id, query="x", filters={"type": "like", "key": "a", "value": 1})
    raise AssertionError("a bad filter was accepted")
except openai.BadRequestError as err:
    assert "like" in err.message, err.message

# Deleted: out of the store, and no longer found.
client.files.delete(tides.id)
after = client.vector_stores.search(vector_store_id=store.id, query="high water tides", max_num_results=10)
assert tides.id not in {r.file_id for r in after.data}, after
deleted = client.vector_stores.delete(store.id)
assert deleted.deleted, deleted
print("openai vector stores: all checks passed")
