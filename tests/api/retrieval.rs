//! Hybrid retrieval: full text beside vectors, rerank, follow-up questions.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::support::fake_upstream::{FakeUpstream, Fault};

async fn sources(app: &TestApp, body: &Value) -> Vec<Value> {
    let answer = app.chat_json(&app.user_key, body).await;
    answer["sources"].as_array().unwrap().clone()
}

fn titles(sources: &[Value]) -> Vec<String> {
    sources
        .iter()
        .map(|s| s["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn full_text_finds_a_chinese_chunk_the_vectors_miss() {
    let app = spawn_app_with(|s| s.top_k = 1).await;
    for (title, text) in [
        ("年假", "每位员工每年享有十五天带薪年假。"),
        ("报销", "差旅费用须在出差结束后十个工作日内提交发票。"),
        ("停车", "公司地下停车场早上七点开放，晚上十一点关闭。"),
        ("食堂", "员工食堂供应午餐和晚餐，周末不开放。"),
        ("门禁", "访客须在前台登记并佩戴临时门禁卡。"),
    ] {
        app.ingest_text(title, text).await;
    }
    // From now on the question's vector is near nothing.
    app.upstream.set_embeddings_blind(true);
    let found = sources(&app, &app.chat_body("年假有几天？", false)).await;
    assert_eq!(titles(&found), ["年假"]);
    assert!(
        found[0]["score"].as_f64().unwrap() < 0.5,
        "the vectors did not find it: {found:?}"
    );
}

#[tokio::test]
async fn english_words_are_found_by_full_text_too() {
    let app = spawn_app_with(|s| s.top_k = 1).await;
    app.ingest_text(
        "Boiler",
        "The boiler room key hangs behind the reception desk.",
    )
    .await;
    app.ingest_text("Canteen", "Lunch is served from noon until two.")
        .await;
    app.upstream.set_embeddings_blind(true);
    let found = sources(&app, &app.chat_body("Where is the boiler key?", false)).await;
    assert_eq!(titles(&found), ["Boiler"]);
}

const QUESTION: &str = "When is the harbour tide?";

/// Three tide documents and the models `plain` (no rerank) and `reranked`;
/// the sources `plain` gives, and a request body for `reranked`.
async fn rerank_setup(app: &TestApp) -> (Vec<String>, Value) {
    for (title, text) in [
        ("Tide one", "High tide reaches the harbour wall at noon."),
        ("Tide two", "Low tide uncovers the harbour sand at dusk."),
        (
            "Tide three",
            "The harbour master posts tide tables every week.",
        ),
    ] {
        app.ingest_text(title, text).await;
    }
    for model in [
        json!({"id": "plain"}),
        json!({"id": "reranked", "rerank": true}),
    ] {
        app.create_model(&model).await;
    }
    let mut body = app.chat_body(QUESTION, false);
    body["model"] = json!("plain");
    let plain = titles(&sources(app, &body).await);
    body["model"] = json!("reranked");
    (plain, body)
}

#[tokio::test]
async fn a_reranking_model_takes_the_reranker_order() {
    let app = spawn_app_with(|s| {
        s.rerank_base_url = s.chat_base_url.clone();
        s.top_k = 3;
    })
    .await;
    let (plain, body) = rerank_setup(&app).await;
    assert_eq!(plain.len(), 3);
    assert!(
        app.upstream.rerank_requests().is_empty(),
        "no rerank unless the model asks"
    );

    app.upstream.set_rerank_reversed(true);
    let reranked = sources(&app, &body).await;
    let request = app.upstream.rerank_requests().pop().unwrap();
    assert_eq!(request["model"], "BAAI/bge-reranker-v2-m3");
    assert_eq!(request["query"], QUESTION);
    assert_eq!(request["top_n"], 3);
    let mut expected = plain.clone();
    expected.reverse();
    assert_eq!(titles(&reranked), expected);
    assert_eq!(reranked[0]["index"], 1);
    assert_eq!(reranked[0]["rerank_score"], 1.0);
}

#[tokio::test]
async fn a_failing_reranker_leaves_the_fused_order() {
    let broken = FakeUpstream::start().await;
    broken.set_fault(Fault::ServerError);
    let base = broken.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.rerank_base_url = Some(base);
        s.top_k = 3;
    })
    .await;
    let (plain, body) = rerank_setup(&app).await;
    let kept = sources(&app, &body).await;
    assert_eq!(titles(&kept), plain);
    assert!(kept[0].get("rerank_score").is_none());
    assert_eq!(broken.rerank_requests().len(), 1, "the reranker was asked");
}

#[tokio::test]
async fn a_follow_up_is_searched_as_asked_and_after_its_exchange() {
    let app = spawn_app().await;
    app.ingest_text(
        "Ferries",
        "Ferries to the island leave at eight and at ten.",
    )
    .await;
    let body = app.chat_messages(json!([
        {"role": "user", "content": "When do ferries leave for the island?"},
        {"role": "assistant", "content": "At eight and at ten."},
        {"role": "user", "content": "And the second one?"},
    ]));
    let found = sources(&app, &body).await;
    assert_eq!(found[0]["title"], "Ferries");
    // Both texts in one embeddings call.
    let asked = app.upstream.embedding_requests().pop().unwrap();
    assert_eq!(
        asked["input"],
        json!([
            "And the second one?",
            "When do ferries leave for the island?\nAt eight and at ten.\nAnd the second one?"
        ])
    );
}

/// An app with small chunks and one answer (top_k 1), where another key,
/// bob, has a private document of `notes` chunks, each nearer the question
/// about the ferry than the shared answer; `filler` unrelated shared chunks
/// besides. Returns the app, bob's key, and the chunks of bob's notes and of
/// the filler.
async fn bobs_ferry_notes(notes: usize, filler: usize) -> (TestApp, String, usize, usize) {
    let app = spawn_app_with(|s| {
        s.top_k = 1;
        s.chunk_size = 16;
        s.chunk_overlap = 0;
        // Which of two near answers ranks first is the fusion's choice;
        // these tests are about scope, so they fix it: by rank, the notes
        // nearer the question by meaning come first for bob.
        s.fusion = ragway::config::Fusion::Rrf;
    })
    .await;
    let bob = app.new_user_key("bob").await;
    let text: Vec<String> = (0..notes)
        .map(|n| format!("When does the ferry leave the harbour? Note {n}."))
        .collect();
    let mut events = app.state.ingest_events.subscribe();
    let response = app
        .post_json(
            "/v1/documents",
            &bob,
            &json!({"title": "Bob's ferry notes", "text": text.join("\n\n"), "visibility": "private"}),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(crate::helpers::wait_for(&mut events, &id).await, "ready");
    let private = app.stored_chunks(&id).await;
    let mut shared = 0;
    if filler > 0 {
        let recipes: Vec<String> = (0..filler)
            .map(|n| format!("Recipe {n}: simmer the lentils with cumin."))
            .collect();
        let recipes = app.ingest_text("Recipes", &recipes.join("\n\n")).await;
        shared = app.stored_chunks(&recipes).await;
    }
    app.ingest_text("Timetable", "Ferry timetable: ask at the harbour office.")
        .await;
    (app, bob, private, shared)
}

/// Each key finds its own answer to the ferry question: the shared
/// timetable for the admin key, bob's own notes for bob.
async fn each_finds_its_own(app: &TestApp, bob: &str) {
    let body = app.chat_body("When does the ferry leave the harbour?", false);
    assert_eq!(titles(&sources(app, &body).await), ["Timetable"]);
    let answer = app.chat_json(bob, &body).await;
    assert_eq!(answer["sources"][0]["title"], "Bob's ferry notes");
}

#[tokio::test]
async fn another_keys_private_chunks_never_crowd_out_the_shared_ones() {
    // More of bob's chunks than a screened search looks deeper (10 for 20
    // candidates), yet under a tenth of the table: the searches run without
    // the scope filter and drop bob's rows; with too few left they run again
    // with the filter.
    let (app, bob, private, filler) = bobs_ferry_notes(15, 200).await;
    assert!(
        private > 10 && filler >= 10 * private,
        "{private} / {filler}"
    );
    each_finds_its_own(&app, &bob).await;
}

#[tokio::test]
async fn a_table_mostly_out_of_scope_is_searched_with_the_filter() {
    // Bob's chunks are most of the table: the searches filter from the start.
    let (app, bob, private, _) = bobs_ferry_notes(40, 0).await;
    assert!(private > 10, "{private}");
    each_finds_its_own(&app, &bob).await;
}
