#!/usr/bin/env bash
# Fuzz the document extractors (crate `extract/`) and the request parsing
# of every client protocol (crate `protocol/`), targets in `fuzz/`, with libFuzzer through
# cargo fuzz, each target for a bounded time. Not part of CI's time budget;
# results go in BENCHMARKS.md's reliability notes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET…]
#
# Seeds: the fixtures (every format) and fixtures/hostile/make.py's corpus
# without its two large JSON files; for the request targets, request bodies
# of the shapes tests/api sends (written below) and fuzz/request.dict. A
# crash is saved under fuzz/artifacts/TARGET/; turn it into a fixture and a
# test (tests/api/hostile_extract.rs, or protocol/'s unit tests for a
# request), then fix the parser, the check or its limits.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(extract_pdf extract_html extract_docx detect_decode chat_request messages_request responses_request gemini_request vector_store_search)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo fuzz passes -Z flags (sanitizers, coverage); this lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
# Its own target directory: the sanitizer flags would otherwise rebuild the server's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/ragway-fuzz-target}"

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 - "$seeds" <<'PY'
import os, sys
sys.path.insert(0, "fixtures/hostile")
import make
out = sys.argv[1]
# Small versions, so that each run is quick: 2,000 levels, 16 x 256 KiB.
with open(os.path.join(out, "nested.html"), "wb") as f:
    f.write(make.nested_html(2_000))
with open(os.path.join(out, "bomb.pdf"), "wb") as f:
    f.write(make.bomb_pdf(256 * 1024, 16))
PY
python3 - "$seeds" <<'PY'
import json, os, sys
out = sys.argv[1]
user = lambda text: {"role": "user", "content": text}
call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"Oslo\"}"}}
chat = {
    "plain": {"model": "ragway", "messages": [user("Which ferries go to the island?")]},
    "streamed": {"model": "ragway", "stream": True, "stream_options": {"include_usage": True},
                 "messages": [{"role": "system", "content": "Be brief."}, user("那第二个呢？")]},
    "history": {"model": "ragway", "stream": None, "conversation_id": "c1", "temperature": 0.25,
                "messages": [user("Which ferries?"), {"role": "assistant", "content": "Two."},
                             {"role": "user", "content": "and the second one?", "name": "alice"}]},
    "tools": {"model": "ragway", "tool_choice": "auto",
              "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
              "messages": [user("weather in Oslo"), {"role": "assistant", "content": None, "tool_calls": [call]},
                           {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"}]},
    "parts": {"model": "ragway", "messages": [{"role": "developer", "content": [
        {"type": "text", "text": "字" * 40}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "y" * 200}]}]},
    "over_count": {"model": "ragway", "messages": [user("a")] * 9},
    "wrong_role": {"model": "ragway", "messages": [{"role": "wizard", "content": "x"}]},
}
messages = {
    "plain": {"model": "ragway", "max_tokens": 64, "messages": [user("Weather?")]},
    "full": {"model": "ragway", "max_tokens": 64, "system": [{"type": "text", "text": "Be brief."}],
             "stop_sequences": ["END"], "metadata": {"user_id": "u-1"}, "temperature": 0.5, "top_p": 0.9,
             "messages": [
                 {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                 {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "Let me look."},
                     {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}]},
                 {"role": "user", "content": [
                     {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rain"}]},
                     {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True, "content": "timeout"},
                     {"type": "text", "text": "And tomorrow?"},
                     {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
                     {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}],
             "tools": [{"name": "weather", "description": "Forecast", "input_schema": {"type": "object"}}],
             "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True}},
    "streamed": {"model": "ragway", "max_tokens": 10, "stream": True, "system": "Be brief.",
                 "conversation_id": "c1", "tool_choice": {"type": "any"}, "messages": [user("hi")]},
    "no_max_tokens": {"model": "ragway", "messages": [user("hi")]},
    "system_role": {"model": "ragway", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    "over_count": {"model": "ragway", "max_tokens": 5, "messages": [user("a")] * 9},
}
responses = {
    "plain": {"model": "ragway", "input": "Which ferries go to the island?", "instructions": "Be brief."},
    "items": {"model": "ragway", "stream": True, "previous_response_id": "resp_1", "store": False,
              "metadata": {"team": "docs"}, "max_output_tokens": 64, "tool_choice": {"type": "function", "name": "lookup"},
              "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
              "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
              "input": [
                  {"role": "developer", "content": "Use tools."},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "那第二个呢？"},
                      {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
                  {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
                  {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"q\":\"Oslo\"}"},
                  {"type": "reasoning", "summary": []},
                  {"type": "function_call_output", "call_id": "call_1", "output": "12 degrees"}]},
    "over_count": {"model": "ragway", "input": [user("a")] * 9},
    "bad_tool": {"model": "ragway", "input": "x", "tools": [{"type": "web_search"}]},
}
gemini = {
    "plain": {"contents": [{"role": "user", "parts": [{"text": "Which ferries go to the island?"}]}]},
    "full": {"systemInstruction": {"parts": [{"text": "Be brief."}]},
             "generationConfig": {"temperature": 0.2, "maxOutputTokens": 64, "stopSequences": ["END"],
                                  "responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}},
             "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "OBJECT"}}]}],
             "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}},
             "contents": [
                 {"role": "user", "parts": [{"text": "weather "}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
                 {"role": "model", "parts": [{"text": "hm", "thought": True}, {"functionCall": {"name": "lookup", "args": {"q": "Oslo"}}}]},
                 {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"temp": 12}}}, {"text": "那第二个呢？"}]}]},
    "over_count": {"contents": [{"parts": [{"text": "a"}]}] * 9},
    "system_role": {"contents": [{"role": "system", "parts": [{"text": "x"}]}]},
}
vector_store_search = {
    "plain": {"query": "harbour tide tables", "max_num_results": 5},
    "filtered": {"query": ["tides", "潮汐表"], "rewrite_query": True,
                 "ranking_options": {"ranker": "auto", "score_threshold": 0.2},
                 "filters": {"type": "and", "filters": [
                     {"type": "eq", "key": "region", "value": "eu"},
                     {"type": "or", "filters": [{"type": "gte", "key": "year", "value": 2024},
                                                {"type": "in", "key": "region", "value": ["us", "eu"]}]}]}},
    "tool": {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 3,
             "filters": {"type": "nin", "key": "draft", "value": [True]}},
}
for target, bodies in (("chat_request", chat), ("messages_request", messages),
                       ("responses_request", responses), ("gemini_request", gemini),
                       ("vector_store_search", vector_store_search)):
    os.makedirs(os.path.join(out, target))
    for name, body in bodies.items():
        with open(os.path.join(out, target, name + ".json"), "w") as f:
            json.dump(body, f, ensure_ascii=False)
PY

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  extra=()
  case "$target" in
    extract_pdf) cp fixtures/*.pdf fixtures/bad/*.pdf fixtures/hostile/*.pdf "$seeds/bomb.pdf" "$corpus/" ;;
    extract_html) cp fixtures/*.html "$seeds/nested.html" "$corpus/" ;;
    extract_docx) cp fixtures/*.docx fixtures/bad/*.docx "$corpus/" ;;
    detect_decode) cp fixtures/*.txt fixtures/*.md fixtures/bad/*.txt "$corpus/" ;;
    chat_request | messages_request | responses_request | gemini_request | vector_store_search)
      cp "$seeds/$target"/*.json "$corpus/"
      extra=(-dict=request.dict -max_len=65536) ;;
  esac
  echo "== $target for ${secs}s" >&2
  (cd fuzz && cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=262144 -print_final_stats=1 \
      ${extra[@]+"${extra[@]}"}) \
    2>&1 | grep -E "^(stat::|#[0-9]+.*DONE|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  if ls "fuzz/artifacts/$target"/crash-* "fuzz/artifacts/$target"/oom-* "fuzz/artifacts/$target"/timeout-* >/dev/null 2>&1; then
    echo "!! $target found inputs that fail: fuzz/artifacts/$target/" >&2
  fi
done
