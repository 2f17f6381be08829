use super::*;

fn parse(body: Value) -> RequestResult<Translated> {
    serde_json::from_value::<ResponsesRequest>(body)
        .expect("a Responses request")
        .into_chat()
}

fn refused(body: Value) -> String {
    parse(body).unwrap_err().to_string()
}

#[test]
fn a_string_input_is_one_user_message_after_the_instructions() {
    let t = parse(json!({
        "model": "ragway", "input": "Hi", "instructions": "Be brief.",
        "max_output_tokens": 50, "temperature": 0.2, "stream": true,
        "metadata": {"team": "docs"}, "user": "u-1",
    }))
    .unwrap();
    let roles: Vec<&str> = t.chat.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user"]);
    assert_eq!(t.chat.messages[0].content, "Be brief.");
    assert_eq!(t.chat.messages[1].content, "Hi");
    assert_eq!(t.input_messages, 1);
    assert!(t.chat.stream);
    assert!(t.store);
    assert_eq!(t.continues, Continues::Nothing);
    assert_eq!(t.chat.rest["max_tokens"], 50);
    assert_eq!(t.chat.rest["temperature"], 0.2);
    assert_eq!(t.chat.rest["user"], "u-1");
    assert_eq!(
        t.chat.rest["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(t.echo["instructions"], "Be brief.");
    assert_eq!(t.echo["metadata"], json!({"team": "docs"}));
    assert_eq!(t.echo["tool_choice"], "auto");
    assert_eq!(t.echo["text"], json!({"format": {"type": "text"}}));
    assert_eq!(t.echo["previous_response_id"], Value::Null);
}

#[test]
fn items_become_chat_messages_with_calls_joined_to_their_message() {
    let t = parse(json!({
        "model": "m",
        "previous_response_id": "resp_1",
        "store": false,
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Weather?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
            {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": {"city": "Bergen"}},
            {"type": "reasoning", "summary": []},
            {"type": "function_call_output", "call_id": "call_1", "output": "rain"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "sun"}]},
            {"type": "function_call", "call_id": "call_3", "name": "clock"}
        ],
        "tools": [{"type": "function", "name": "weather", "description": "Forecast",
                   "parameters": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "function", "name": "weather"},
        "parallel_tool_calls": false,
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low"},
    }))
    .unwrap();
    let roles: Vec<&str> = t.chat.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "developer",
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant"
        ]
    );
    assert_eq!(t.input_messages, 5, "the developer message is not counted");
    assert_eq!(t.continues, Continues::Response("resp_1".into()));
    assert!(!t.store);
    let user = &t.chat.messages[1].content;
    assert_eq!(user[0], json!({"type": "text", "text": "Weather?"}));
    assert_eq!(
        user[1]["image_url"],
        json!({"url": "data:image/png;base64,AAAA", "detail": "low"})
    );
    let assistant = &t.chat.messages[2];
    assert_eq!(assistant.content, "Looking.");
    let calls = assistant.rest["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(calls[1]["function"]["arguments"], "{\"city\":\"Bergen\"}");
    assert_eq!(t.chat.messages[3].rest["tool_call_id"], "call_1");
    assert_eq!(t.chat.messages[4].content, "sun");
    assert!(t.chat.messages[5].content.is_null());
    assert_eq!(
        t.chat.messages[5].rest["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(
        t.chat.rest["tools"][0],
        json!({"type": "function", "function": {"name": "weather", "description": "Forecast",
               "parameters": {"type": "object"}, "strict": true}})
    );
    assert_eq!(
        t.chat.rest["tool_choice"],
        json!({"type": "function", "function": {"name": "weather"}})
    );
    assert_eq!(t.chat.rest["parallel_tool_calls"], false);
    assert_eq!(t.chat.rest["reasoning_effort"], "low");
    assert_eq!(
        t.chat.rest["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}})
    );
    assert_eq!(t.echo["previous_response_id"], "resp_1");
    assert_eq!(t.echo["store"], false);
}

#[test]
fn conversations_are_named_one_way() {
    let t = parse(json!({"model": "m", "input": "x", "conversation": {"id": "c1"}})).unwrap();
    assert_eq!(t.continues, Continues::Conversation("c1".into()));
    let t = parse(json!({"model": "m", "input": "x", "conversation_id": "c2"})).unwrap();
    assert_eq!(t.continues, Continues::Named("c2".into()));
    assert_eq!(t.chat.rest["conversation_id"], "c2");
    assert!(refused(
        json!({"model": "m", "input": "x", "conversation": "c1", "previous_response_id": "resp_1"})
    )
    .starts_with("Name at most one of"));
    assert_eq!(
        refused(json!({"model": "m", "input": "x", "previous_response_id": ""})),
        "An id must be 1 to 128 characters long."
    );
}

#[test]
fn bad_requests_are_named() {
    let cases = [
        (json!({"model": "m"}), "`input` is required."),
        (
            json!({"model": "m", "input": []}),
            "`input` must not be empty.",
        ),
        (
            json!({"model": "m", "input": 3}),
            "`input` must be a string or an array of input items.",
        ),
        (
            json!({"model": "m", "input": [{"content": "x"}]}),
            "input[0] needs a `type` (or a `role`).",
        ),
        (
            json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}),
            "input[0].role must be user, assistant, system or developer.",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
            "input[0]: a function_call needs `call_id` and `name`.",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call_output"}]}),
            "input[0]: a function_call_output needs `call_id`.",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}),
            "input[0].type \"item_reference\" is not supported (messages, function_call and \
             function_call_output items are).",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
            "input[0]: an input_image needs an `image_url` (a URL or a data: URL); file ids are \
             not supported.",
        ),
        (
            json!({"model": "m", "input": "x", "background": true}),
            "`background` responses are not supported: stream the response, or wait for it.",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
            "tools[0].type \"web_search\" is not supported: ragway passes function tools to the \
             model (and searches its knowledge base for every question by itself).",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}),
            "tools[0].name is required.",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": {"type": "allowed_tools"}}),
            "`tool_choice` must be auto, none, required or {\"type\": \"function\", \"name\": …}.",
        ),
        (
            json!({"model": "m", "input": "x", "text": {"format": {"type": "xml"}}}),
            "`text.format.type` must be text, json_object or json_schema.",
        ),
        (
            json!({"model": "m", "input": "x", "metadata": {"n": 1}}),
            "metadata.n must be a string.",
        ),
        (
            json!({"model": "m", "input": "x", "include": ["message.output_text.logprobs"]}),
            "`include` value \"message.output_text.logprobs\" is not supported: only \"file_search_call.results\".",
        ),
        (
            json!({"model": "m", "input": "x", "include": ["file_search_call.results"]}),
            "`include: file_search_call.results` needs a `file_search` tool.",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "file_search"}]}),
            "The `file_search` tool: missing field `vector_store_ids`.",
        ),
        (
            json!({"model": "m", "input": "x", "prompt": {"id": "pmpt_1"}}),
            "`prompt` is not supported here (see the protocol table in the README).",
        ),
    ];
    // Hints that change nothing, and empty lists, pass.
    let t = parse(
        json!({"model": "m", "input": "x", "truncation": "auto", "include": [],
                         "service_tier": "auto", "prompt_cache_key": "k", "top_logprobs": null}),
    )
    .unwrap();
    assert_eq!(t.chat.messages.len(), 1);
    for (body, expected) in cases {
        assert_eq!(refused(body.clone()), expected, "{body}");
    }
    let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        refused(json!({"model": "m", "input": "x", "metadata": many})),
        "`metadata` holds at most 16 keys."
    );
}

#[test]
fn a_file_search_tool_is_taken_out_of_the_tools() {
    let t = parse(json!({"model": "m", "input": "x",
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 3,
                   "filters": {"type": "eq", "key": "a", "value": 1}},
                  {"type": "function", "name": "f"}],
        "tool_choice": {"type": "file_search"},
        "include": ["file_search_call.results"]}))
    .unwrap();
    let search = t.chat.file_search.expect("the file_search tool");
    assert_eq!(search.vector_store_ids, ["vs_1"]);
    assert_eq!(search.search.max_results, 3);
    assert!(search.search.filter.is_some());
    assert!(t.include_results);
    // Only the function goes upstream, and no choice of the file search.
    assert_eq!(t.chat.rest["tools"].as_array().map(Vec::len), Some(1));
    assert!(t.chat.rest.get("tool_choice").is_none());
    // The response repeats the tools as sent.
    assert_eq!(t.echo["tools"].as_array().map(Vec::len), Some(2));
    // With the file search the only tool, no choice goes upstream.
    let alone = parse(
        json!({"model": "m", "input": "x", "tool_choice": "required",
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}),
    )
    .unwrap();
    assert!(alone.chat.rest.get("tools").is_none());
    assert!(alone.chat.rest.get("tool_choice").is_none());
    let two = json!({"type": "file_search", "vector_store_ids": ["vs_1"]});
    assert!(parse(json!({"model": "m", "input": "x", "tools": [two.clone(), two]})).is_err());
}
