"""The official `mcp` Python client against ragway's MCP server at /mcp
(streamable HTTP): initialize, list the tools, `search`, `fetch` and
`list_collections`; another key cannot fetch this key's private document,
and a request without a key is refused.

Run by the Rust integration test `clients::the_official_mcp_client_searches_and_fetches_over_mcp`,
which starts ragway with a shared "Lighthouse" document and this key's private
"Diary", and passes RAGWAY_BASE_URL, RAGWAY_API_KEY, RAGWAY_OTHER_KEY and
RAGWAY_PRIVATE_DOC (the diary's id).
"""

import asyncio
import json
import os
import sys

try:
    from mcp import ClientSession
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
except ImportError:
    sys.exit("the `mcp` package is missing: pip install mcp (the README's test command does it)")

URL = os.environ["RAGWAY_BASE_URL"] + "/mcp"
PRIVATE = os.environ["RAGWAY_PRIVATE_DOC"]


def payload(result):
    """A tool result's JSON: its structured content, or its text."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def with_session(key, work):
    headers = {"Authorization": f"Bearer {key}"}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(URL, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                return await work(session)


async def mine(session):
    tools = await session.list_tools()
    names = {tool.name for tool in tools.tools}
    assert names == {"search", "fetch", "list_collections"}, names
    search = next(tool for tool in tools.tools if tool.name == "search")
    assert "query" in search.input_schema["properties"], search.input_schema

    found = payload(await session.call_tool("search", {"query": "lighthouse keeper tide"}))
    results = found["results"]
    assert results, found
    first = results[0]
    assert first["title"] == "Lighthouse" and first["url"].endswith("/content"), first
    assert "every morning at six" in first["snippet"], first

    # This key's own private document is searched too.
    diary = payload(await session.call_tool("search", {"query": "diary lamp cleaned Tuesday", "limit": 3}))
    assert PRIVATE in {r["id"] for r in diary["results"]}, diary

    document = payload(await session.call_tool("fetch", {"id": first["id"]}))
    assert document["id"] == first["id"] and document["title"] == "Lighthouse", document
    assert document["text"] == "The lighthouse keeper logs the tide every morning at six.", document
    assert document["metadata"]["visibility"] == "shared", document
    own = payload(await session.call_tool("fetch", {"id": PRIVATE}))
    assert "cleaned on Tuesday" in own["text"], own

    listed = payload(await session.call_tool("list_collections", {}))
    names = {c["name"] for c in listed["collections"]}
    assert {"default", "private"} <= names, listed

    missing = await session.call_tool("fetch", {"id": "no-such-document"})
    assert missing.is_error, missing


async def theirs(session):
    refused = await session.call_tool("fetch", {"id": PRIVATE})
    assert refused.is_error, refused
    assert "No document" in refused.content[0].text, refused
    found = payload(await session.call_tool("search", {"query": "diary lamp cleaned Tuesday", "limit": 5}))
    assert PRIVATE not in {r["id"] for r in found["results"]}, found


async def without_key():
    async with create_mcp_http_client() as http:
        response = await http.post(URL, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                   headers={"Accept": "application/json, text/event-stream"})
        assert response.status_code == 401, response.status_code
        assert response.headers["www-authenticate"].startswith("Bearer"), response.headers


async def main():
    await with_session(os.environ["RAGWAY_API_KEY"], mine)
    await with_session(os.environ["RAGWAY_OTHER_KEY"], theirs)
    await without_key()
    print("mcp client: all checks passed")


asyncio.run(main())
