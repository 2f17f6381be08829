//! Filtered vector-store search against unfiltered, at 100k chunks of
//! 1024-wide vectors in 1,000 documents of 100 chunks each: the vector leg of
//! `vector_stores.search` (`VectorStore::search_rows` with
//! `Scope::documents`, LanceDB's `document_id IN (…)` filter) when the
//! attribute filter admits every file, 10% or 1% of them, and chat's search
//! without documents for reference; p50/p99 and queries/s on 1 client (the
//! modes interleaved query by query, so a noisy moment hits all alike), the
//! p99 ratio against the unfiltered store search, and recall@10 against an
//! exact top 10 by brute force over only the admitted rows.
//!
//! `cargo bench --bench vector_store_search` (or with `nice`); `VSS_ROWS`
//! (default 100000, a multiple of 100), `VSS_QUERIES` (default 200),
//! `VSS_CORPUS=flat` for retrieval.rs's flat clusters, `VSS_TUNE=1` to add
//! LanceDB's normal and fast approximate modes side by side and every mode
//! again with the scalar index on `document_id` toggled (see [`tune`]).
//! Prints a markdown table; a quick smoke run: `VSS_ROWS=10000 VSS_QUERIES=50`.

// A benchmark: a failed step may end it.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lancedb::query::VectorQuery;
use lancedb::ApproxMode;
use ragway::store::vectors::{FoundRow, NewChunk, Scope, VectorStore};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const DIM: usize = 1024;
const K: usize = 10;
/// Rows `vector_stores.search` asks each search for with `max_results` 10
/// (retrieval's candidates: 4 × top k, 20 at least).
const WANTED: usize = 40;
const CHUNKS_PER_DOCUMENT: usize = 100;
const TABLE: &str = "chunks_bench";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}

fn uniform(rng: &mut StdRng, spread: f32) -> Vec<f32> {
    (0..DIM)
        .map(|_| (rng.random::<f32>() - 0.5) * spread)
        .collect()
}

/// 1,000 centres, each row near one picked at random (so a document's chunks
/// sit around many centres, and a filter to some documents removes close
/// neighbours). By default the centres are grouped in 100 topics of 10, as
/// real embeddings have structure at more than one scale: without it (`flat`,
/// retrieval.rs's corpus) a narrow filter's exact top 10 beyond the query's
/// own centre are rows at random angles, ordered by noise.
fn corpus(rows: usize, flat: bool, rng: &mut StdRng) -> Vec<f32> {
    let topics: Vec<Vec<f32>> = (0..100).map(|_| uniform(rng, 1.0)).collect();
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|c| {
            if flat {
                uniform(rng, 1.0)
            } else {
                let own = uniform(rng, 0.6);
                topics[c / 10].iter().zip(own).map(|(t, o)| t + o).collect()
            }
        })
        .collect();
    let mut vectors = Vec::with_capacity(rows * DIM);
    for _ in 0..rows {
        let centre = &centres[rng.random_range(0..centres.len())];
        let noise = uniform(rng, 0.3);
        let mut v: Vec<f32> = centre.iter().zip(noise).map(|(c, n)| c + n).collect();
        normalise(&mut v);
        vectors.extend(v);
    }
    vectors
}

/// The exact top-k of `rows` (row numbers) for `query` by dot product.
fn brute_force(vectors: &[f32], rows: &[usize], query: &[f32]) -> Vec<usize> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(K + 1);
    for &row in rows {
        let v = &vectors[row * DIM..(row + 1) * DIM];
        let score: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
        if best.len() < K || score > best[best.len() - 1].0 {
            let at = best.partition_point(|(s, _)| *s >= score);
            best.insert(at, (score, row));
            best.truncate(K);
        }
    }
    best.into_iter().map(|(_, row)| row).collect()
}

struct Mode {
    label: &'static str,
    scope: Scope<'static>,
    /// The rows of the files the scope lists (every row for chat's search).
    admitted: Vec<usize>,
    latencies: Vec<Duration>,
    /// The exact top 10 of the admitted rows for each query.
    truths: Vec<HashSet<String>>,
    recall_wanted: f64,
    recall_k: f64,
    short: usize,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// Queries a second on one client: the inverse of the mean latency.
fn per_second(latencies: &[Duration]) -> f64 {
    latencies.len() as f64 / latencies.iter().sum::<Duration>().as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The name of the table's scalar index on `document_id`, if it has one.
async fn document_index(table: &lancedb::Table) -> Option<String> {
    let indices = table.list_indices().await.unwrap();
    let on_documents = |i: &&lancedb::index::IndexConfig| i.columns == ["document_id"];
    indices.iter().find(on_documents).map(|i| i.name.clone())
}

/// The chunk ids of `found` (read back outside any timing).
async fn chunk_ids(store: &VectorStore, found: &[FoundRow], scope: Scope<'_>) -> Vec<String> {
    let rows: Vec<u64> = found.iter().map(|f| f.row).collect();
    let read = store.read_rows(TABLE, &rows, false, scope).await.unwrap();
    read.expect("no compaction runs during the bench")
        .into_iter()
        .map(|r| r.hit.expect("a row in scope").chunk_id)
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: then a
    // small smoke run shows the benchmark still works.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rows = env_or("VSS_ROWS", if benchmarking { 100_000 } else { 1_000 });
    let count = env_or("VSS_QUERIES", if benchmarking { 200 } else { 8 });
    let flat = std::env::var("VSS_CORPUS").is_ok_and(|v| v == "flat");
    assert!(
        rows.is_multiple_of(CHUNKS_PER_DOCUMENT) && rows > 0,
        "VSS_ROWS: a multiple of {CHUNKS_PER_DOCUMENT}"
    );
    let documents = rows / CHUNKS_PER_DOCUMENT;
    let mut rng = StdRng::seed_from_u64(7);
    let vectors = corpus(rows, flat, &mut rng);
    let dir = tempfile::tempdir().unwrap();
    // The indexes are built when this bench says, not by the quiet upkeep.
    let store = VectorStore::open(&dir.path().display().to_string())
        .await
        .unwrap()
        .with_quiet_period(Duration::from_secs(86_400));
    let load = Instant::now();
    for start in (0..rows).step_by(10_000) {
        let end = (start + 10_000).min(rows);
        let chunks: Vec<NewChunk> = (start..end)
            .map(|row| NewChunk {
                id: format!("c{row}"),
                document_id: format!("d{}", row / CHUNKS_PER_DOCUMENT),
                generation: "g".into(),
                collection: "default".into(),
                ordinal: (row % CHUNKS_PER_DOCUMENT) as i32,
                title: format!("doc {}", row / CHUNKS_PER_DOCUMENT),
                page: None,
                heading: None,
                text: format!("chunk {row}"),
                vector: vectors[row * DIM..(row + 1) * DIM].to_vec(),
            })
            .collect();
        store.add(TABLE, chunks).await.unwrap();
    }
    let loaded = load.elapsed().as_secs_f64();
    // As retrieval.rs does at 100k: the ANN index ragway builds, then the
    // indexes brought up to date and the fragments merged, as the upkeep would.
    let t = Instant::now();
    let built = store.index_vectors_now(TABLE).await.unwrap();
    let indexed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    store.compact(TABLE).await.unwrap();
    let coverage = store.vector_index_coverage(TABLE).await.unwrap();
    let compacted = t.elapsed().as_secs_f64();
    eprintln!("{rows} rows loaded in {loaded:.1} s, vector index built ({built}) in {indexed:.1} s, compacted in {compacted:.1} s; {coverage:?}");

    // Queries: stored vectors nudged off their place (as retrieval.rs).
    let queries: Vec<Vec<f32>> = (0..count)
        .map(|_| {
            let row = rng.random_range(0..rows);
            let mut v: Vec<f32> = vectors[row * DIM..(row + 1) * DIM]
                .iter()
                .map(|x| x + (rng.random::<f32>() - 0.5) * 0.05)
                .collect();
            normalise(&mut v);
            v
        })
        .collect();
    // The files each filter admits: the first tenth or hundredth of the
    // documents in a random order.
    let mut order: Vec<usize> = (0..documents).collect();
    order.shuffle(&mut rng);
    let specs = [
        ("store, unfiltered", Some(documents)),
        ("store, filter admits 10%", Some((documents / 10).max(1))),
        ("store, filter admits 1%", Some((documents / 100).max(1))),
        ("chat search, no documents (reference)", None),
    ];
    let mut modes: Vec<Mode> = specs
        .into_iter()
        .map(|(label, files)| {
            let chosen: HashSet<usize> = order[..files.unwrap_or(documents)]
                .iter()
                .copied()
                .collect();
            let admitted: Vec<usize> = (0..rows)
                .filter(|row| chosen.contains(&(row / CHUNKS_PER_DOCUMENT)))
                .collect();
            let ids: Option<&'static [String]> = files.map(|_| {
                let ids: Vec<String> = chosen.iter().map(|d| format!("d{d}")).collect();
                &*Box::leak(ids.into_boxed_slice())
            });
            let truths = queries
                .iter()
                .map(|q| {
                    let top = brute_force(&vectors, &admitted, q);
                    top.into_iter().map(|r| format!("c{r}")).collect()
                })
                .collect();
            Mode {
                label,
                // A store search lists its files even when its filter admits all.
                scope: Scope {
                    documents: ids,
                    everything: ids.is_none(),
                    ..Scope::default()
                },
                admitted,
                latencies: Vec::with_capacity(count),
                truths,
                recall_wanted: 0.0,
                recall_k: 0.0,
                short: 0,
            }
        })
        .collect();
    let corpus_name = if flat { "flat" } else { "topics" };
    let table = store.table(TABLE).await.unwrap().unwrap();
    let indexed = document_index(&table).await.map_or("no", |_| "yes");
    println!(
        "| rows | search ({corpus_name} corpus; index on document_id: {indexed}) | files admitted | rows admitted | p50 ms | p99 ms | queries/s | p99 / unfiltered p99 | recall@10 | recall@10, k = 10 | short of k |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    measure(&store, &mut modes, &queries).await;
    report(rows, &mut modes, "");
    if std::env::var_os("VSS_TUNE").is_some() {
        tune(&store, &mut modes, &queries, rows).await;
    }
}

/// Recall of every mode (untimed; it also warms each mode's path), then
/// each query through every mode timed, the order turned each time.
async fn measure(store: &VectorStore, modes: &mut [Mode], queries: &[Vec<f32>]) {
    for mode in modes.iter_mut() {
        let (mut found_wanted, mut found_k) = (0, 0);
        mode.short = 0;
        for (q, truth) in queries.iter().zip(&mode.truths) {
            let wanted = store
                .search_rows(TABLE, q, WANTED, mode.scope)
                .await
                .unwrap();
            if wanted.len() < WANTED.min(mode.admitted.len()) {
                mode.short += 1;
            }
            let top = chunk_ids(store, &wanted[..wanted.len().min(K)], mode.scope).await;
            found_wanted += top.iter().filter(|id| truth.contains(*id)).count();
            let only_k = store.search_rows(TABLE, q, K, mode.scope).await.unwrap();
            let top = chunk_ids(store, &only_k, mode.scope).await;
            found_k += top.iter().filter(|id| truth.contains(*id)).count();
        }
        mode.recall_wanted = found_wanted as f64 / (K * queries.len()) as f64;
        mode.recall_k = found_k as f64 / (K * queries.len()) as f64;
        mode.latencies.clear();
    }
    for (i, q) in queries.iter().enumerate() {
        for m in 0..modes.len() {
            let at = (i + m) % modes.len();
            let mode = &mut modes[at];
            let t = Instant::now();
            let found = store
                .search_rows(TABLE, q, WANTED, mode.scope)
                .await
                .unwrap();
            let took = t.elapsed();
            std::hint::black_box(found);
            mode.latencies.push(took);
        }
    }
}

/// One table row per mode, the p99 ratio against the first mode's.
fn report(rows: usize, modes: &mut [Mode], note: &str) {
    let mut unfiltered_p99 = None;
    for mode in modes.iter_mut() {
        mode.latencies.sort();
        let p99 = percentile(&mode.latencies, 0.99);
        let base = *unfiltered_p99.get_or_insert(p99);
        println!(
            "| {rows} | {}{note} | {} | {} | {} | {} | {:.0} | {:.2} | {:.3} | {:.3} | {} |",
            mode.label,
            mode.scope
                .documents
                .map_or("—".to_string(), |d| d.len().to_string()),
            mode.admitted.len(),
            ms(percentile(&mode.latencies, 0.5)),
            ms(p99),
            per_second(&mode.latencies),
            p99.as_secs_f64() / base.as_secs_f64(),
            mode.recall_wanted,
            mode.recall_k,
            mode.short,
        );
    }
}

/// `VSS_TUNE=1`: each store search straight through LanceDB in its normal
/// and its fast approximate mode (and LanceDB's plan of one, with its
/// metrics, on stderr); then every mode again with the scalar index on
/// `document_id` dropped if ragway built one, else with one built.
async fn tune(store: &VectorStore, modes: &mut [Mode], queries: &[Vec<f32>], rows: usize) {
    let table = store.table(TABLE).await.unwrap().unwrap();
    approx_modes(&table, modes, queries, rows).await;
    let t = Instant::now();
    let note = match document_index(&table).await {
        Some(name) => {
            table.drop_index(&name).await.unwrap();
            ", without the index on document_id"
        }
        None => {
            let btree = lancedb::index::Index::BTree(Default::default());
            let index = table.create_index(&["document_id"], btree);
            index.execute().await.unwrap();
            ", with a B-tree on document_id"
        }
    };
    eprintln!("{note}: {:.1} s", t.elapsed().as_secs_f64());
    measure(store, modes, queries).await;
    report(rows, modes, note);
}

/// A store search of `mode`'s files as ragway sends it to LanceDB (ef,
/// refine factor, the filter `Scope::filter` writes), in mode `approx`.
fn direct(table: &lancedb::Table, mode: &Mode, q: &[f32], approx: ApproxMode) -> VectorQuery {
    use lancedb::query::QueryBase;
    let ids = mode
        .scope
        .documents
        .unwrap()
        .iter()
        .map(|d| format!("'{d}'"));
    let filter = format!("document_id IN ({})", ids.collect::<Vec<_>>().join(", "));
    let query = table.query().nearest_to(q).unwrap().only_if(filter);
    query
        .distance_type(lancedb::DistanceType::Cosine)
        .ef(100)
        .refine_factor(2)
        .limit(WANTED)
        .approx_mode(approx)
}

/// Each store search through LanceDB in its normal approximate mode and in
/// `Fast` (ACORN: the graph walk scores only admitted rows), the two
/// interleaved query by query; recall from a second, untimed search.
/// First the plan of one, with its metrics (how the filter, the scalar
/// indexes and the vector index were used).
async fn approx_modes(table: &lancedb::Table, modes: &[Mode], queries: &[Vec<f32>], rows: usize) {
    use futures::TryStreamExt;
    use lancedb::arrow::arrow_array::{RecordBatch, StringArray};
    use lancedb::query::{ExecutableQuery, QueryBase, Select};
    let approx = [ApproxMode::Normal, ApproxMode::Fast];
    let mut base = None;
    for mode in modes.iter().filter(|m| m.scope.documents.is_some()) {
        let plan = direct(table, mode, &queries[0], ApproxMode::Normal)
            .select(Select::columns(&["_distance"]))
            .with_row_id();
        eprintln!("{}:\n{}", mode.label, plan.analyze_plan().await.unwrap());
        let mut latencies = [Vec::new(), Vec::new()];
        let mut found = [0, 0];
        for (q, truth) in queries.iter().zip(&mode.truths) {
            for (a, approx) in approx.into_iter().enumerate() {
                let t = Instant::now();
                let query = direct(table, mode, q, approx).select(Select::columns(&["_distance"]));
                let stream = query.with_row_id().execute().await.unwrap();
                std::hint::black_box(stream.try_collect::<Vec<_>>().await.unwrap());
                latencies[a].push(t.elapsed());
                let query = direct(table, mode, q, approx).select(Select::columns(&["id"]));
                let batches: Vec<RecordBatch> =
                    query.execute().await.unwrap().try_collect().await.unwrap();
                let ids = batches.iter().flat_map(|b| {
                    let ids = b.column_by_name("id").unwrap().as_any();
                    let ids = ids.downcast_ref::<StringArray>().unwrap().clone();
                    (0..b.num_rows()).map(move |r| ids.value(r).to_string())
                });
                found[a] += ids.take(K).filter(|id| truth.contains(id)).count();
            }
        }
        for (a, approx) in approx.into_iter().enumerate() {
            latencies[a].sort();
            let (p50, p99) = (
                percentile(&latencies[a], 0.5),
                percentile(&latencies[a], 0.99),
            );
            let base = *base.get_or_insert(p99);
            println!(
                "| {rows} | {}, LanceDB direct, {approx:?} mode | {} | {} | {} | {} | {:.0} | {:.2} | {:.3} | — | — |",
                mode.label,
                mode.scope.documents.unwrap().len(),
                mode.admitted.len(),
                ms(p50),
                ms(p99),
                per_second(&latencies[a]),
                p99.as_secs_f64() / base.as_secs_f64(),
                found[a] as f64 / (K * queries.len()) as f64,
            );
        }
    }
}
