//! Times chat's two searches on an existing data directory's chunk table,
//! alone and together, without the rest of the chat path: where
//! `bench/rag_overhead.sh`'s stage timings say retrieval is slow, this says
//! what each search costs by itself on the same data.
//!
//!   search_probe LANCEDB_DIR TABLE EMBEDDINGS_URL MODEL "QUESTION" [N=200]
//!
//! The question is embedded once through `EMBEDDINGS_URL` (an
//! OpenAI-compatible `/v1/embeddings`), then each mode runs N times, one
//! query after another, without the scope filter. Prints a markdown table.
//!
//! With `PROBE_KNOBS=1` it then times LanceDB's own knobs on the same table
//! (HNSW breadth, exact re-ranking, the columns fetched) over questions cut
//! from the table's own chunks, with each variant's recall@20 against an
//! exact scan, and prints the executed plans of chat's two queries.
//!
//! With `PROBE_WAND=1` it times full text under Lance's `wand_factor`
//! (harder pruning), with how much of the exact top 20 and top 5 each finds.
//!
//! With `PROBE_FILTERS=1` it times the ways a search can keep to a caller's
//! scope (LanceDB's filter naming the collections kept or those left out,
//! applied before or after the search, or none and a deeper search) after
//! adding one chunk of another key's private space to the table.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{Array, RecordBatch, StringArray};
use lancedb::index::scalar::FullTextSearchQuery;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::DistanceType;
use ragway::store::vectors::{Scope, VectorStore, COLUMNS};

/// Candidates per search, as chat takes them for the default top-k.
const WANTED: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[at].as_secs_f64() * 1e3
}

/// "p50 | p90 | p99" of `times` in milliseconds (sorts them).
fn percentiles(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "{:.2} | {:.2} | {:.2}",
        percentile(times, 0.5),
        percentile(times, 0.9),
        percentile(times, 0.99)
    )
}

/// The embeddings of `inputs` from the OpenAI-compatible `url`.
async fn embed(url: &str, model: &str, inputs: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
    let body: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"model": model, "input": inputs}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["data"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no embeddings"))?
        .iter()
        .map(|d| Ok(serde_json::from_value(d["embedding"].clone())?))
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 6,
        "usage: search_probe LANCEDB_DIR TABLE EMBEDDINGS_URL MODEL QUESTION [N]"
    );
    let (dir, table, url, model, question) = (&args[1], &args[2], &args[3], &args[4], &args[5]);
    let n: usize = args.get(6).map_or(Ok(200), |s| s.parse())?;
    let vector = embed(url, model, std::slice::from_ref(question))
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no embedding"))?;
    let store = VectorStore::open(dir).await?;
    let scope = Scope {
        collections: None,
        private_space: None,
        documents: None,
        everything: true,
    };
    // Warm the caches (index, metadata) as a running server's would be.
    for _ in 0..20 {
        store.search(table, &vector, WANTED, scope).await?;
        store.text_search(table, question, WANTED, scope).await?;
    }
    println!("| mode | runs | p50 ms | p90 ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for mode in [
        "vector",
        "full text",
        "both at once",
        "both at once, rows only, then read 5",
    ] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            match mode {
                "vector" => {
                    store.search(table, &vector, WANTED, scope).await?;
                }
                "full text" => {
                    store.text_search(table, question, WANTED, scope).await?;
                }
                "both at once" => {
                    let (a, b) = tokio::join!(
                        store.search(table, &vector, WANTED, scope),
                        store.text_search(table, question, WANTED, scope)
                    );
                    a?;
                    b?;
                }
                _ => {
                    // As chat does now: rows from both, then one read of the kept ones.
                    let (a, b) = tokio::join!(
                        store.search_rows(table, &vector, WANTED, scope),
                        store.text_search_rows(table, question, WANTED, scope)
                    );
                    let mut rows: Vec<u64> = a?.iter().take(3).map(|f| f.row).collect();
                    rows.extend(
                        b?.iter()
                            .map(|f| f.row)
                            .filter(|r| !rows.contains(r))
                            .take(2)
                            .collect::<Vec<_>>(),
                    );
                    store.read_rows(table, &rows, true, scope).await?;
                }
            }
            times.push(started.elapsed());
        }
        println!("| {mode} | {n} | {} |", percentiles(&mut times));
    }
    if std::env::var("PROBE_KNOBS").is_ok_and(|v| v == "1") {
        knobs(dir, table, url, model, n).await?;
    }
    if std::env::var("PROBE_FILTERS").is_ok_and(|v| v == "1") {
        filters(&store, dir, table, &vector, question, n).await?;
    }
    if std::env::var("PROBE_WAND").is_ok_and(|v| v == "1") {
        wand(dir, table, question, n).await?;
    }
    Ok(())
}

/// Times full text with Lance's `wand_factor` (the pruning threshold's
/// multiplier: over 1 skips more documents and may lose some of the true
/// top k) on chat's question and on questions cut from the table's chunks,
/// with the share of the exact (factor 1) top 20 and top 5 each finds.
async fn wand(dir: &str, name: &str, question: &str, n: usize) -> anyhow::Result<()> {
    let db = lancedb::connect(dir).execute().await?;
    let table = db.open_table(name).execute().await?;
    let mut questions = vec![question.to_string()];
    questions.extend(questions_from_chunks(&table).await?);
    let search = |question: String, factor: f32| {
        let table = table.clone();
        async move {
            let found: Vec<RecordBatch> = table
                .query()
                .full_text_search(FullTextSearchQuery::new(question).wand_factor(Some(factor)))
                .select(Select::columns(&["id"]))
                .limit(WANTED)
                .execute()
                .await?
                .try_collect()
                .await?;
            anyhow::Ok(ids(&found))
        }
    };
    let mut exact = Vec::new();
    for q in &questions {
        exact.push(search(q.clone(), 1.0).await?);
    }
    println!(
        "\n{} questions (chat's and {} cut from the table's chunks); found: share of the exact top 20 / top 5\n",
        questions.len(),
        questions.len() - 1
    );
    println!("| wand factor | question | runs | p50 ms | p90 ms | p99 ms | found of top 20 | found of top 5 |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for factor in [1.0f32, 1.2, 1.5, 2.0, 3.0] {
        for (label, range) in [("chat's", 0..1), ("cut from chunks", 1..questions.len())] {
            let (mut times, mut found20, mut found5, mut wanted20, mut wanted5) =
                (Vec::with_capacity(n), 0, 0, 0, 0);
            for i in 0..n {
                let at = range.start + i % range.len();
                let started = Instant::now();
                let got = search(questions[at].clone(), factor).await?;
                times.push(started.elapsed());
                if i < range.len() {
                    let truth = &exact[at];
                    wanted20 += truth.len();
                    found20 += truth.iter().filter(|id| got.contains(id)).count();
                    let top5 = &truth[..truth.len().min(5)];
                    wanted5 += top5.len();
                    found5 += top5.iter().filter(|id| got.contains(id)).count();
                }
            }
            println!(
                "| {factor} | {label} | {n} | {} | {:.3} | {:.3} |",
                percentiles(&mut times),
                found20 as f64 / wanted20.max(1) as f64,
                found5 as f64 / wanted5.max(1) as f64
            );
        }
    }
    Ok(())
}

/// Questions for the knob probes: the first dozen words of about 50 chunks spread
/// over the first 4,000 rows of `table`.
async fn questions_from_chunks(table: &lancedb::Table) -> anyhow::Result<Vec<String>> {
    let batches: Vec<RecordBatch> = table
        .query()
        .select(Select::columns(&["text"]))
        .limit(4000)
        .execute()
        .await?
        .try_collect()
        .await?;
    let mut questions = Vec::new();
    for batch in &batches {
        let texts = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text");
        for row in (0..texts.len()).step_by(80) {
            let words: Vec<&str> = texts.value(row).split_whitespace().take(12).collect();
            questions.push(words.join(" "));
        }
    }
    Ok(questions)
}

/// The ids in a result, in order.
fn ids(batches: &[RecordBatch]) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in batches {
        let column = batch.column_by_name("id").expect("id column");
        let column = column.as_any().downcast_ref::<StringArray>().expect("ids");
        ids.extend((0..column.len()).map(|row| column.value(row).to_string()));
    }
    ids
}

/// Times the ways a search can keep to a caller's scope, on rows only (as
/// chat searches): LanceDB's filter as chat writes it (the collections kept),
/// the same scope written as the collections left out, the filter applied
/// after the search, and no filter with a deeper search that returns each
/// row's collection (to drop the rest in memory). Adds one chunk of another
/// key's private space first (about the question, so it competes).
async fn filters(
    store: &VectorStore,
    dir: &str,
    name: &str,
    vector: &[f32],
    question: &str,
    n: usize,
) -> anyhow::Result<()> {
    const OTHER: &str = "~probe-other";
    let db = lancedb::connect(dir).execute().await?;
    let table = db.open_table(name).execute().await?;
    let absent = table
        .count_rows(Some(format!("collection = '{OTHER}'")))
        .await?
        == 0;
    if absent {
        store.allow_upkeep(false);
        store
            .add(
                name,
                vec![ragway::store::vectors::NewChunk {
                    id: "probe-other:0".into(),
                    document_id: "probe-other".into(),
                    generation: "g".into(),
                    collection: OTHER.into(),
                    ordinal: 0,
                    title: "mine".into(),
                    page: None,
                    heading: None,
                    text: question.to_string(),
                    vector: vector.to_vec(),
                }],
            )
            .await?;
        // Into every index, as a server's upkeep would fold it in.
        store.compact(name).await?;
    }
    let table = db.open_table(name).execute().await?;
    let batches: Vec<RecordBatch> = table
        .query()
        .select(Select::columns(&["collection"]))
        .execute()
        .await?
        .try_collect()
        .await?;
    let mut shared = std::collections::BTreeSet::new();
    for batch in &batches {
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("collection");
        for row in 0..column.len() {
            if !column.value(row).starts_with('~') {
                shared.insert(column.value(row).to_string());
            }
        }
    }
    let listed: Vec<String> = shared.iter().map(|c| format!("'{c}'")).collect();
    let include = format!(
        "(collection IN ({})) OR collection = '~probe-me'",
        listed.join(", ")
    );
    let exclude = format!("collection NOT IN ('{OTHER}')");
    println!(
        "\nscope filters ({} rows; kept: {include}; left out: {exclude})\n",
        table.count_rows(None).await?
    );
    println!("| search | filter | k | runs | p50 ms | p90 ms | p99 ms | rows |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let cases: [(&str, Option<&str>, bool, usize, bool); 8] = [
        ("none", None, false, WANTED, false),
        ("kept (chat today)", Some(&include), false, WANTED, false),
        ("left out", Some(&exclude), false, WANTED, false),
        (
            "kept, after the search",
            Some(&include),
            true,
            WANTED,
            false,
        ),
        ("none, + collection column", None, false, WANTED, true),
        ("none, deeper", None, false, WANTED + 1, false),
        ("none, deeper", None, false, WANTED + WANTED / 2, false),
        (
            "none, deeper, + collection column",
            None,
            false,
            WANTED + WANTED / 2,
            true,
        ),
    ];
    for text in [false, true] {
        for (label, filter, post, k, collection) in cases {
            let mut columns = vec![if text { "_score" } else { "_distance" }];
            if collection {
                columns.push("collection");
            }
            let mut rows = 0;
            let mut times = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                let found: Vec<RecordBatch> = if text {
                    let mut q = table.query();
                    if let Some(f) = filter {
                        q = q.only_if(f);
                    }
                    q.full_text_search(FullTextSearchQuery::new(question.to_string()))
                        .limit(k)
                        .select(Select::columns(&columns))
                        .with_row_id()
                        .execute()
                        .await?
                        .try_collect()
                        .await?
                } else {
                    let mut q = table
                        .query()
                        .nearest_to(vector)?
                        .distance_type(DistanceType::Cosine)
                        .ef(100)
                        .refine_factor(2)
                        .limit(k);
                    if let Some(f) = filter {
                        q = q.only_if(f);
                    }
                    if post {
                        q = q.postfilter();
                    }
                    q.select(Select::columns(&columns))
                        .with_row_id()
                        .execute()
                        .await?
                        .try_collect()
                        .await?
                };
                times.push(started.elapsed());
                rows = found.iter().map(RecordBatch::num_rows).sum();
            }
            println!(
                "| {} | {label} | {k} | {n} | {} | {rows} |",
                if text { "full text" } else { "vector" },
                percentiles(&mut times)
            );
        }
    }
    Ok(())
}

/// One vector-search variant: HNSW breadth, re-ranking, columns.
struct Variant {
    name: &'static str,
    ef: usize,
    refine: Option<u32>,
    columns: &'static [&'static str],
}

async fn knobs(dir: &str, name: &str, url: &str, model: &str, n: usize) -> anyhow::Result<()> {
    let db = lancedb::connect(dir).execute().await?;
    let table = db.open_table(name).execute().await?;
    let questions = questions_from_chunks(&table).await?;
    let vectors = embed(url, model, &questions).await?;
    let mut exact = Vec::new();
    for v in &vectors {
        let found: Vec<RecordBatch> = table
            .query()
            .nearest_to(v.as_slice())?
            .distance_type(DistanceType::Cosine)
            .bypass_vector_index()
            .limit(WANTED)
            .select(Select::columns(&["id"]))
            .execute()
            .await?
            .try_collect()
            .await?;
        exact.push(ids(&found));
    }
    let all: &[&str] = &COLUMNS;
    let variants = [
        Variant {
            name: "chat: ef 100, refine 2, chunk columns",
            ef: 100,
            refine: Some(2),
            columns: all,
        },
        Variant {
            name: "ef 100, refine 2, id only",
            ef: 100,
            refine: Some(2),
            columns: &["id"],
        },
        Variant {
            name: "ef 100, no refine",
            ef: 100,
            refine: None,
            columns: all,
        },
        Variant {
            name: "ef 60, refine 2",
            ef: 60,
            refine: Some(2),
            columns: all,
        },
        Variant {
            name: "ef 40, refine 2",
            ef: 40,
            refine: Some(2),
            columns: all,
        },
        Variant {
            name: "ef 40, no refine",
            ef: 40,
            refine: None,
            columns: all,
        },
    ];
    println!(
        "\n{} questions from the table's chunks; recall@{WANTED} against an exact scan\n",
        questions.len()
    );
    println!("| vector variant | runs | p50 ms | p90 ms | p99 ms | recall@{WANTED} |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for variant in &variants {
        let query = |v: &[f32]| -> anyhow::Result<_> {
            let mut q = table
                .query()
                .nearest_to(v)?
                .distance_type(DistanceType::Cosine)
                .ef(variant.ef)
                .limit(WANTED)
                .select(Select::columns(variant.columns));
            if let Some(r) = variant.refine {
                q = q.refine_factor(r);
            }
            Ok(q)
        };
        let (mut found, mut wanted) = (0usize, 0usize);
        for (v, truth) in vectors.iter().zip(&exact) {
            let got: Vec<RecordBatch> = query(v)?.execute().await?.try_collect().await?;
            let got = ids(&got);
            found += truth.iter().filter(|id| got.contains(id)).count();
            wanted += truth.len();
        }
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let started = Instant::now();
            let _: Vec<RecordBatch> = query(&vectors[i % vectors.len()])?
                .execute()
                .await?
                .try_collect()
                .await?;
            times.push(started.elapsed());
        }
        println!(
            "| {} | {n} | {} | {:.3} |",
            variant.name,
            percentiles(&mut times),
            found as f64 / wanted.max(1) as f64
        );
    }
    let mut with_vector = COLUMNS.to_vec();
    with_vector.push("vector");
    let text_variants: [(&str, &[&str]); 3] = [
        ("chat: chunk columns and vector", &with_vector),
        ("chunk columns", all),
        ("id only", &["id"]),
    ];
    println!("\n| full-text variant | runs | p50 ms | p90 ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, columns) in text_variants {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let started = Instant::now();
            let _: Vec<RecordBatch> = table
                .query()
                .full_text_search(FullTextSearchQuery::new(
                    questions[i % questions.len()].clone(),
                ))
                .select(Select::columns(columns))
                .limit(WANTED)
                .execute()
                .await?
                .try_collect()
                .await?;
            times.push(started.elapsed());
        }
        println!("| {label} | {n} | {} |", percentiles(&mut times));
    }
    let chat_vector = table
        .query()
        .nearest_to(vectors[0].as_slice())?
        .distance_type(DistanceType::Cosine)
        .ef(100)
        .refine_factor(2)
        .limit(WANTED)
        .select(Select::columns(all));
    println!(
        "\nchat's vector search, executed:\n\n```\n{}\n```",
        chat_vector.analyze_plan().await?
    );
    let chat_text = table
        .query()
        .full_text_search(FullTextSearchQuery::new(questions[0].clone()))
        .select(Select::columns(&with_vector))
        .limit(WANTED);
    println!(
        "\nchat's full-text search, executed:\n\n```\n{}\n```",
        chat_text.analyze_plan().await?
    );
    Ok(())
}
