//! Any bytes as a `POST /v1/vector_stores/{id}/search` body (and as a
//! `file_search` tool), through what the server does with one before any
//! I/O: parsing, the bounds check, and the attribute filter evaluated over
//! a few files' attributes. Nothing may panic, and a checked search stays
//! within its bounds (queries, results, filter size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_protocol::vector_stores::{
    attributes, FileSearch, SearchRequest, MAX_QUERIES, MAX_QUERY_CHARS, MAX_RESULTS,
};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let files = [
        json!({"region": "eu", "year": 2024, "draft": false}),
        json!({"region": "us", "year": 2023.5}),
        json!({}),
    ];
    let files: Vec<_> = files
        .iter()
        .map(|f| attributes(Some(f)).expect("valid attributes"))
        .collect();
    if let Ok(tool) = FileSearch::parse(&value) {
        assert!(!tool.vector_store_ids.is_empty());
        assert!((1..=MAX_RESULTS).contains(&tool.search.max_results));
        if let Some(filter) = &tool.search.filter {
            for file in &files {
                filter.matches(file);
            }
        }
    }
    let Ok(request) = serde_json::from_value::<SearchRequest>(value) else {
        return;
    };
    let Ok(search) = request.check() else {
        return;
    };
    assert!((1..=MAX_QUERIES).contains(&search.queries.len()));
    assert!(search
        .queries
        .iter()
        .all(|q| !q.trim().is_empty() && q.chars().count() <= MAX_QUERY_CHARS));
    assert!((1..=MAX_RESULTS).contains(&search.max_results));
    if let Some(filter) = &search.filter {
        for file in &files {
            filter.matches(file);
        }
    }
});
