use super::*;

fn parse(body: Value, stream: bool) -> RequestResult<ChatRequest> {
    serde_json::from_value::<GenerateRequest>(body)
        .expect("a generateContent request")
        .into_chat("ragway", stream)
}

fn refused(body: Value) -> String {
    parse(body, false).unwrap_err().to_string()
}

#[test]
fn turns_become_chat_messages() {
    let chat = parse(
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Weather "}, {"text": "in Oslo?"}]},
                {"role": "model", "parts": [
                    {"text": "thinking", "thought": true},
                    {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "weather", "response": {"temp": 12}}},
                    {"text": "And this?"},
                    {"inline_data": {"mime_type": "image/png", "data": "AAAA"}}
                ]}
            ],
            "generationConfig": {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 64,
                                 "stopSequences": ["END"], "responseMimeType": "application/json",
                                 "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}},
            "tools": [{"functionDeclarations": [{"name": "weather", "description": "Forecast",
                       "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}},
            "conversationId": "c1",
        }),
        true,
    )
    .unwrap();
    assert_eq!(chat.model, "ragway");
    assert!(chat.stream);
    let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(chat.messages[0].content, "Be brief.");
    assert_eq!(chat.messages[1].content, "Weather in Oslo?");
    let call = &chat.messages[2].rest["tool_calls"][0];
    assert!(chat.messages[2].content.is_null(), "thoughts are not sent");
    assert_eq!(call["id"], "call_1_1");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Oslo"}"#);
    assert_eq!(chat.messages[3].rest["tool_call_id"], "call_1_1");
    assert_eq!(chat.messages[3].content, r#"{"temp":12}"#);
    assert_eq!(
        chat.messages[4].content[1]["image_url"]["url"],
        "data:image/png;base64,AAAA"
    );
    assert_eq!(chat.rest["temperature"], 0.2);
    assert_eq!(chat.rest["top_p"], 0.9);
    assert_eq!(chat.rest["max_tokens"], 64);
    assert_eq!(chat.rest["stop"], json!(["END"]));
    assert_eq!(
        chat.rest["response_format"]["json_schema"]["schema"]["properties"]["a"]["type"],
        "string"
    );
    assert_eq!(
        chat.rest["tools"][0]["function"]["parameters"]["type"],
        "object"
    );
    assert_eq!(
        chat.rest["tool_choice"],
        json!({"type": "function", "function": {"name": "weather"}})
    );
    assert_eq!(chat.rest["conversation_id"], "c1");
    assert_eq!(chat.rest["stream_options"], json!({"include_usage": true}));
}

#[test]
fn ids_given_back_are_kept_and_modes_translate() {
    let chat = parse(
        json!({
            "system_instruction": "Be kind.",
            "contents": [
                {"role": "model", "parts": [{"function_call": {"id": "call_9", "name": "f"}}]},
                {"role": "function", "parts": [{"function_response": {"id": "call_9", "name": "f", "response": "ok"}}]},
                {"parts": [{"functionResponse": {"name": "g", "response": {}}}]}
            ],
            "tool_config": {"function_calling_config": {"mode": "none"}},
        }),
        false,
    )
    .unwrap();
    let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "assistant", "tool", "tool"]);
    assert_eq!(chat.messages[1].rest["tool_calls"][0]["id"], "call_9");
    assert_eq!(
        chat.messages[1].rest["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(chat.messages[2].rest["tool_call_id"], "call_9");
    assert_eq!(chat.messages[2].content, "ok");
    assert_eq!(
        chat.messages[3].rest["tool_call_id"], "call_g",
        "no call of that name"
    );
    assert_eq!(chat.rest["tool_choice"], "none");
    assert!(!chat.rest.contains_key("stream_options"));
}

#[test]
fn bad_requests_are_named() {
    let user = json!([{"role": "user", "parts": [{"text": "x"}]}]);
    let cases = [
        (json!({}), "`contents` must not be empty."),
        (
            json!({"contents": [{"role": "system", "parts": []}]}),
            "contents[0].role must be user or model, not \"system\" (the system prompt goes in \
             `systemInstruction`).",
        ),
        (
            json!({"contents": [{"role": "user"}]}),
            "contents[0].parts must be an array.",
        ),
        (
            json!({"contents": [{"parts": [{"inlineData": {"mimeType": "application/pdf", "data": ""}}]}]}),
            "contents[0].parts[0]: inline data of type \"application/pdf\" is not supported (images \
             are; upload documents to /v1/documents).",
        ),
        (
            json!({"contents": [{"parts": [{"fileData": {"fileUri": "x"}}]}]}),
            "contents[0].parts[0] is not supported (text, inlineData images, functionCall and \
             functionResponse parts are).",
        ),
        (
            json!({"contents": user, "tools": [{"googleSearch": {}}]}),
            "tools[0] is not supported: ragway passes `functionDeclarations` to the model (and \
             searches its knowledge base for every question by itself).",
        ),
        (
            json!({"contents": user, "generationConfig": {"candidateCount": 2}}),
            "`candidateCount` above 1 is not supported.",
        ),
        (
            json!({"contents": user, "generationConfig": {"responseMimeType": "text/x.enum"}}),
            "`responseMimeType` \"text/x.enum\" is not supported (text/plain and application/json are).",
        ),
        (
            json!({"contents": user, "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
            "`toolConfig.functionCallingConfig.mode` must be AUTO, ANY or NONE.",
        ),
        (
            json!({"contents": user, "cachedContent": "cachedContents/1"}),
            "`cachedContent` is not supported.",
        ),
        (
            json!({"contents": user, "systemInstruction": 3}),
            "`systemInstruction` must be a content with `parts`.",
        ),
        (
            json!({"contents": user, "generationConfig": {"responseLogprobs": true}}),
            "`generationConfig.responseLogprobs` is not supported here (see the protocol table in the README).",
        ),
        (
            json!({"contents": user, "generationConfig": {"responseModalities": ["IMAGE"]}}),
            "`generationConfig.responseModalities` may ask for TEXT only.",
        ),
        (
            json!({"contents": user, "cachedContents": "x"}),
            "`cachedContents` is not supported here (see the protocol table in the README).",
        ),
    ];
    // What changes nothing passes; `topK` goes on.
    let chat = parse(
        json!({"contents": user, "safetySettings": [{"category": "x"}],
               "generationConfig": {"topK": 40, "thinkingConfig": {"thinkingBudget": 0},
                                    "responseModalities": ["TEXT"], "candidateCount": 1}}),
        false,
    )
    .unwrap();
    assert_eq!(chat.rest["top_k"], 40);
    for (body, expected) in cases {
        assert_eq!(refused(body.clone()), expected, "{body}");
    }
}
