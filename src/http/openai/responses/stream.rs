//! The Responses API's typed event stream, from the chat pipeline's events:
//! `response.created` and `response.in_progress` first; then per output
//! item `response.output_item.added`, its content (`content_part.added`,
//! `output_text.delta`…, the sources as `output_text.annotation.added`,
//! `output_text.done`, `content_part.done`; or `function_call_arguments.delta`…
//! and `.done`) and `response.output_item.done`; last `response.completed`
//! (`response.incomplete` when the answer was cut at `max_output_tokens`,
//! `response.failed` when the upstream broke off). Every event carries its
//! `type` and a `sequence_number`.

use bytes::Bytes;
use serde_json::{json, Value};

use super::render::{call_item, item_id, message_item, text_part, usage, Ending, Shell};
use crate::chat::Event;

/// The item being generated.
enum Open {
    Text {
        id: String,
        index: usize,
        text: String,
    },
    Call {
        id: String,
        index: usize,
        /// The chat API's tool call index it stands for.
        tool: u64,
        /// Its `id` and `function.name`.
        call: Value,
        arguments: String,
    },
}

/// What one pipeline event comes to.
pub(super) enum Step {
    /// Events to send.
    Frames(Vec<Bytes>),
    /// The response ended: events to send, then (once the response is
    /// kept) the last event, `kind` with `response`.
    Ended {
        frames: Vec<Bytes>,
        kind: &'static str,
        response: Value,
    },
}

/// One streamed response, as far as it has come.
pub(super) struct Relay {
    shell: Shell,
    sequence: u64,
    /// The items that are done, in order.
    output: Vec<Value>,
    open: Option<Open>,
    finish: Option<String>,
    usage: Value,
}

impl Relay {
    pub fn new(shell: Shell) -> Self {
        Self {
            shell,
            sequence: 0,
            output: Vec::new(),
            open: None,
            finish: None,
            usage: Value::Null,
        }
    }

    /// One SSE event: `data` with its `type` and sequence number.
    pub fn frame(&mut self, kind: &str, mut data: Value) -> Bytes {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
    }

    /// The events before any output.
    pub fn start(&mut self) -> Vec<Bytes> {
        let response =
            self.shell
                .object(&Ending::IN_PROGRESS, Vec::new(), Value::Null, Value::Null);
        let mut frames = vec![
            self.frame("response.created", json!({"response": response})),
            self.frame("response.in_progress", json!({"response": response})),
        ];
        // The file search ran before the answer began: its item, whole.
        if let Some(item) = self.shell.file_search.clone() {
            let index = self.output.len();
            let id = item["id"].clone();
            let mut started = item.clone();
            started["status"] = json!("in_progress");
            started["results"] = Value::Null;
            frames.push(self.frame(
                "response.output_item.added",
                json!({"output_index": index, "item": started}),
            ));
            for stage in ["in_progress", "searching", "completed"] {
                let kind = format!("response.file_search_call.{stage}");
                frames.push(self.frame(&kind, json!({"output_index": index, "item_id": id})));
            }
            frames.push(self.frame(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            ));
            self.output.push(item);
        }
        frames
    }

    /// The events for one event of the pipeline.
    pub fn event(&mut self, event: Event) -> Step {
        match event {
            Event::Chunk(chunk) => Step::Frames(self.chunk(&chunk)),
            // The Responses stream has no place for data that is not JSON.
            Event::Raw(_) => Step::Frames(Vec::new()),
            Event::Done { .. } => {
                let ending = Ending::of(self.finish.as_deref());
                let mut frames = Vec::new();
                let status = if ending.status == "completed" {
                    "completed"
                } else {
                    "incomplete"
                };
                self.close(status, &mut frames);
                let kind = if ending.status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                let response = self.response(&ending, Value::Null);
                Step::Ended {
                    frames,
                    kind,
                    response,
                }
            }
            Event::Failed { message, .. } => self.failed(&message),
        }
    }

    /// The events that end a response that broke off with `message`.
    pub fn failed(&mut self, message: &str) -> Step {
        let mut frames = Vec::new();
        self.close("incomplete", &mut frames);
        let ending = Ending {
            status: "failed",
            incomplete: Value::Null,
        };
        let error = json!({"code": "server_error", "message": message});
        let response = self.response(&ending, error);
        Step::Ended {
            frames,
            kind: "response.failed",
            response,
        }
    }

    fn response(&self, ending: &Ending, error: Value) -> Value {
        self.shell
            .object(ending, self.output.clone(), self.usage.clone(), error)
    }

    /// The events for one chat completion chunk.
    fn chunk(&mut self, chunk: &Value) -> Vec<Bytes> {
        let mut out = Vec::new();
        if chunk.get("usage").is_some_and(Value::is_object) {
            self.usage = usage(&chunk["usage"]);
        }
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.text(text, &mut out);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.call(call, &mut out);
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.finish = Some(finish.to_string());
        }
        out
    }

    fn text(&mut self, delta: &str, out: &mut Vec<Bytes>) {
        if !matches!(self.open, Some(Open::Text { .. })) {
            self.close("completed", out);
            let (id, index) = (item_id("msg"), self.output.len());
            let item = message_item(&id, "in_progress", Vec::new());
            out.push(self.frame(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            out.push(self.frame(
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": text_part("", Vec::new())}),
            ));
            self.open = Some(Open::Text {
                id,
                index,
                text: String::new(),
            });
        }
        let Some(Open::Text { id, index, text }) = &mut self.open else {
            return;
        };
        text.push_str(delta);
        let data = json!({"item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []});
        out.push(self.frame("response.output_text.delta", data));
    }

    fn call(&mut self, call: &Value, out: &mut Vec<Bytes>) {
        let tool = call["index"].as_u64().unwrap_or(0);
        if !matches!(self.open, Some(Open::Call { tool: open, .. }) if open == tool) {
            self.close("completed", out);
            let (id, index) = (item_id("fc"), self.output.len());
            let named = json!({"id": call["id"], "function": {"name": call["function"]["name"]}});
            let item = call_item(&id, "in_progress", &named, &json!(""));
            out.push(self.frame(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            self.open = Some(Open::Call {
                id,
                index,
                tool,
                call: named,
                arguments: String::new(),
            });
        }
        let Some(fragment) = call["function"]["arguments"]
            .as_str()
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        let Some(Open::Call {
            id,
            index,
            arguments,
            ..
        }) = &mut self.open
        else {
            return;
        };
        arguments.push_str(fragment);
        let data = json!({"item_id": id, "output_index": index, "delta": fragment});
        out.push(self.frame("response.function_call_arguments.delta", data));
    }

    /// End the open item (if any) as `status`.
    fn close(&mut self, status: &str, out: &mut Vec<Bytes>) {
        match self.open.take() {
            None => {}
            Some(Open::Text { id, index, text }) => {
                let annotations = self.shell.annotations(&text);
                for (n, annotation) in annotations.iter().enumerate() {
                    let data = json!({"item_id": id, "output_index": index, "content_index": 0,
                                      "annotation_index": n, "annotation": annotation});
                    out.push(self.frame("response.output_text.annotation.added", data));
                }
                let data = json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []});
                out.push(self.frame("response.output_text.done", data));
                let part = text_part(&text, annotations);
                let data =
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part});
                out.push(self.frame("response.content_part.done", data));
                let item = message_item(&id, status, vec![part]);
                out.push(self.frame(
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                ));
                self.output.push(item);
            }
            Some(Open::Call {
                id,
                index,
                call,
                arguments,
                ..
            }) => {
                let data = json!({"item_id": id, "output_index": index, "arguments": arguments,
                                  "name": call["function"]["name"]});
                out.push(self.frame("response.function_call_arguments.done", data));
                let item = call_item(&id, status, &call, &json!(arguments));
                out.push(self.frame(
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                ));
                self.output.push(item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn names(frames: &[Bytes]) -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                let text = String::from_utf8_lossy(f);
                text.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("event: ")
                    .to_string()
            })
            .collect()
    }

    fn data(frame: &Bytes) -> Value {
        let text = String::from_utf8_lossy(frame);
        serde_json::from_str(text.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap()
    }

    #[test]
    fn text_then_a_call_then_the_end() {
        let mut relay = Relay::new(Shell {
            id: "resp_1".into(),
            created_at: 1,
            model: "ragway".into(),
            echo: Map::new(),
            conversation_id: "c1".into(),
            sources: Vec::new(),
            file_search: None,
            filenames: Default::default(),
        });
        let start = relay.start();
        assert_eq!(names(&start), ["response.created", "response.in_progress"]);
        assert_eq!(data(&start[0])["response"]["status"], "in_progress");
        let Step::Frames(text) = relay.event(Event::Chunk(
            json!({"choices": [{"delta": {"role": "assistant", "content": "He"}}]}),
        )) else {
            panic!("frames")
        };
        assert_eq!(
            names(&text),
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta"
            ]
        );
        assert_eq!(data(&text[2])["sequence_number"], 4);
        let Step::Frames(call) =
            relay.event(Event::Chunk(json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}
            ]}}]})))
        else {
            panic!("frames")
        };
        assert_eq!(
            names(&call),
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta"
            ]
        );
        relay.event(Event::Chunk(json!({"choices": [{"delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ":1}"}}
        ]}, "finish_reason": "tool_calls"}]})));
        relay.event(Event::Chunk(
            json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        ));
        let Step::Ended {
            frames,
            kind,
            response,
        } = relay.event(Event::Done { last: json!({}) })
        else {
            panic!("ended")
        };
        assert_eq!(
            names(&frames),
            [
                "response.function_call_arguments.done",
                "response.output_item.done"
            ]
        );
        assert_eq!(data(&frames[0])["arguments"], "{\"a\":1}");
        assert_eq!(kind, "response.completed");
        assert_eq!(response["status"], "completed");
        assert_eq!(response["output"][0]["content"][0]["text"], "He");
        assert_eq!(response["output"][1]["arguments"], "{\"a\":1}");
        assert_eq!(response["usage"]["total_tokens"], 7);
    }

    #[test]
    fn a_file_search_comes_first_and_whole() {
        let item = json!({"id": "fs_1", "type": "file_search_call", "status": "completed",
                          "queries": ["q"], "results": [{"file_id": "f"}]});
        let mut relay = Relay::new(Shell {
            id: "resp_1".into(),
            created_at: 1,
            model: "ragway".into(),
            echo: Map::new(),
            conversation_id: "c1".into(),
            sources: Vec::new(),
            file_search: Some(item.clone()),
            filenames: Default::default(),
        });
        let start = relay.start();
        assert_eq!(
            names(&start)[2..],
            [
                "response.output_item.added",
                "response.file_search_call.in_progress",
                "response.file_search_call.searching",
                "response.file_search_call.completed",
                "response.output_item.done"
            ]
        );
        assert_eq!(data(&start[2])["item"]["status"], "in_progress");
        assert_eq!(data(&start[6])["item"], item);
        let Step::Frames(text) = relay.event(Event::Chunk(
            json!({"choices": [{"delta": {"content": "Hi"}}]}),
        )) else {
            panic!("frames")
        };
        assert_eq!(data(&text[0])["output_index"], 1);
    }
}
