use serde_json::json;

use super::*;

fn attrs(value: Value) -> Map<String, Value> {
    attributes(Some(&value)).expect("valid attributes")
}

#[test]
fn comparisons_follow_openai_semantics() {
    let file = attrs(json!({"region": "eu", "year": 2024, "draft": false}));
    let check = |filter: Value| Filter::parse(&filter).expect("valid filter").matches(&file);
    assert!(check(json!({"type": "eq", "key": "region", "value": "eu"})));
    assert!(!check(
        json!({"type": "eq", "key": "region", "value": "us"})
    ));
    assert!(check(json!({"type": "eq", "key": "year", "value": 2024.0})));
    assert!(check(json!({"type": "gte", "key": "year", "value": 2024})));
    assert!(!check(json!({"type": "gt", "key": "year", "value": 2024})));
    assert!(check(json!({"type": "lt", "key": "region", "value": "fr"})));
    assert!(!check(
        json!({"type": "lt", "key": "year", "value": "2025"})
    ));
    assert!(check(
        json!({"type": "in", "key": "region", "value": ["us", "eu"]})
    ));
    assert!(check(
        json!({"type": "nin", "key": "region", "value": ["us"]})
    ));
    assert!(check(json!({"type": "eq", "key": "draft", "value": false})));
    // A missing attribute passes only the negative comparisons.
    assert!(!check(json!({"type": "eq", "key": "team", "value": "x"})));
    assert!(check(json!({"type": "ne", "key": "team", "value": "x"})));
    assert!(check(json!({"type": "nin", "key": "team", "value": ["x"]})));
    let compound = json!({"type": "and", "filters": [
        {"type": "eq", "key": "region", "value": "eu"},
        {"type": "or", "filters": [
            {"type": "lt", "key": "year", "value": 2000},
            {"type": "eq", "key": "draft", "value": false}
        ]}
    ]});
    assert!(check(compound));
    assert!(!check(json!({"type": "or", "filters": []})));
    assert!(check(json!({"type": "and", "filters": []})));
}

#[test]
fn bad_filters_are_refused_by_name() {
    let refused = |filter: Value| match Filter::parse(&filter) {
        Err(crate::RequestError::BadRequest(message)) => message,
        Ok(parsed) => panic!("accepted {parsed:?}"),
    };
    assert!(refused(json!({"type": "like", "key": "a", "value": "b"})).contains("like"));
    assert!(refused(json!({"type": "eq", "value": "b"})).contains("key"));
    assert!(refused(json!({"type": "eq", "key": "a", "value": {"x": 1}})).contains("value"));
    assert!(refused(json!({"type": "in", "key": "a", "value": "b"})).contains("list"));
    assert!(refused(json!({"type": "eq", "key": "a", "value": 1, "op": 2})).contains("op"));
    let mut deep = json!({"type": "eq", "key": "a", "value": 1});
    for _ in 0..MAX_FILTER_DEPTH {
        deep = json!({"type": "and", "filters": [deep]});
    }
    assert!(refused(deep).contains("deep"));
    let wide: Vec<Value> = (0..MAX_FILTER_NODES)
        .map(|i| json!({"type": "eq", "key": "a", "value": i}))
        .collect();
    assert!(refused(json!({"type": "or", "filters": wide})).contains("parts"));
}

#[test]
fn attributes_and_metadata_are_bounded() {
    assert!(attributes(Some(&json!({"a": [1]}))).is_err());
    assert!(attributes(Some(&json!({"a": "x".repeat(513)}))).is_err());
    assert!(attributes(Some(&json!({"k".repeat(65): 1}))).is_err());
    let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
    assert!(attributes(Some(&Value::Object(many))).is_err());
    assert!(metadata(Some(&json!({"a": 1}))).is_err());
    assert_eq!(metadata(None).map(|m| m.len()), Ok(0));
    assert!(attributes(Some(&json!("text"))).is_err());
}

#[test]
fn chunking_strategies_are_checked() {
    assert_eq!(Chunking::parse(None), Ok(Chunking::Auto));
    assert_eq!(
        Chunking::parse(Some(&json!({"type": "auto"}))),
        Ok(Chunking::Auto)
    );
    let fixed = json!({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}});
    assert_eq!(
        Chunking::parse(Some(&fixed)),
        Ok(Chunking::Static {
            max_tokens: 800,
            overlap_tokens: 400
        })
    );
    let overlapping = json!({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}});
    assert!(Chunking::parse(Some(&overlapping)).is_err());
    let small = json!({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}});
    assert!(Chunking::parse(Some(&small)).is_err());
    assert!(Chunking::parse(Some(&json!({"type": "other"}))).is_err());
}

#[test]
fn searches_are_bounded() {
    let search = |body: Value| {
        serde_json::from_value::<SearchRequest>(body)
            .map_err(|e| e.to_string())
            .and_then(|r| r.check().map_err(|e| e.to_string()))
    };
    let checked = search(json!({"query": ["a", "b"], "max_num_results": 5,
        "ranking_options": {"ranker": "none", "score_threshold": 0.2}}))
    .expect("valid search");
    assert_eq!(checked.queries, ["a", "b"]);
    assert_eq!((checked.max_results, checked.rerank), (5, false));
    assert!(search(json!({"query": ""})).is_err());
    assert!(search(json!({"query": 3})).is_err());
    assert!(search(json!({"query": "a", "max_num_results": 51})).is_err());
    assert!(search(json!({"query": "a", "ranking_options": {"score_threshold": 2}})).is_err());
    assert!(search(json!({"query": "a", "ranking_options": {"ranker": "best"}})).is_err());
    assert!(search(json!({"query": "a", "unknown": 1}))
        .unwrap_err()
        .contains("unknown"));
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    assert!(search(json!({"query": many})).is_err());
}

#[test]
fn batches_take_ids_or_files() {
    let batch = |body: Value| {
        serde_json::from_value::<CreateBatch>(body)
            .expect("parses")
            .files()
    };
    let files = batch(json!({"file_ids": ["a", "b"], "attributes": {"x": 1}})).expect("valid");
    assert_eq!(files.len(), 2);
    assert_eq!(files[1].attributes, Some(json!({"x": 1})));
    let files =
        batch(json!({"files": [{"file_id": "a", "attributes": {"y": 2}}], "attributes": {"x": 1}}))
            .expect("valid");
    assert_eq!(files[0].attributes, Some(json!({"y": 2})));
    assert!(batch(json!({"file_ids": ["a", "a"]})).is_err());
    assert!(batch(json!({"file_ids": []})).is_err());
    assert!(batch(json!({})).is_err());
    assert!(batch(json!({"file_ids": ["a"], "files": []})).is_err());
}
