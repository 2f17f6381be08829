//! Retrieval latency at 10k and 100k chunks of 1024-wide vectors: vector
//! search (exact scan, then the ANN index ragway builds), full text, and
//! hybrid (both at once, as chat does), each with 1 and 4 concurrent
//! clients, beside a brute-force dot-product scan of the same vectors in the
//! same run (the floor). Also recall@10 of the ANN index against exact search.
//!
//! `cargo bench --bench retrieval` (or `bench/retrieval.sh`); sizes with
//! `RETRIEVAL_SIZES=10000,100000`; the table in an S3 bucket with
//! `RETRIEVAL_S3=http://endpoint` (`bench/storage.sh`). Prints a markdown table.

// A benchmark: a failed step may end it, and its clients are tasks of its own, not the
// server's background work.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ragway::store::s3::S3Options;
use ragway::store::vectors::{NewChunk, Scope, VectorStore, COLUMNS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 1024;
/// Queries per measurement: 200 in a benchmark run, a few under `cargo test`.
static QUERIES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn query_count() -> usize {
    *QUERIES.get().unwrap_or(&200)
}

/// LanceDB's exact scan takes over a second a query at 100k rows: from this
/// many rows it is timed on [`EXACT_SCAN_QUERIES`] queries only.
const EXACT_SCAN_FEW_FROM: usize = 50_000;
const EXACT_SCAN_QUERIES: usize = 20;
const K: usize = 10;
const TABLE: &str = "chunks_bench";

struct Corpus {
    vectors: Vec<f32>,
    texts: Vec<String>,
}

/// Vectors clustered around 1,000 centres (closer to real embeddings than
/// uniform noise), normalised; texts of words from a 5,000-word vocabulary,
/// half English-like, half Chinese.
fn corpus(rows: usize, rng: &mut StdRng) -> Corpus {
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|_| (0..DIM).map(|_| rng.random::<f32>() - 0.5).collect())
        .collect();
    let mut vectors = Vec::with_capacity(rows * DIM);
    for _ in 0..rows {
        let centre = &centres[rng.random_range(0..centres.len())];
        let mut v: Vec<f32> = centre
            .iter()
            .map(|c| c + (rng.random::<f32>() - 0.5) * 0.3)
            .collect();
        normalise(&mut v);
        vectors.extend(v);
    }
    let hanzi: Vec<char> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研质信".chars().collect();
    let texts = (0..rows)
        .map(|_| {
            let mut words = Vec::with_capacity(60);
            for _ in 0..60 {
                if rng.random_bool(0.5) {
                    words.push(format!("w{}", rng.random_range(0..2500)));
                } else {
                    let a = hanzi[rng.random_range(0..hanzi.len())];
                    let b = hanzi[rng.random_range(0..hanzi.len())];
                    words.push(format!("{a}{b}"));
                }
            }
            words.join(" ")
        })
        .collect();
    Corpus { vectors, texts }
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}

/// The exact top-k row numbers for `query` by dot product (vectors are normalised).
fn brute_force(vectors: &[f32], query: &[f32]) -> Vec<usize> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(K + 1);
    for (row, v) in vectors.chunks_exact(DIM).enumerate() {
        let score: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
        if best.len() < K || score > best[best.len() - 1].0 {
            let at = best.partition_point(|(s, _)| *s >= score);
            best.insert(at, (score, row));
            best.truncate(K);
        }
    }
    best.into_iter().map(|(_, row)| row).collect()
}

struct Stats {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        per_second: latencies.len() as f64 / wall.as_secs_f64(),
    }
}

/// Run `query(i)` for the first `count` query indexes with `clients` at once.
async fn measure<F, Fut>(clients: usize, count: usize, query: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let query = Arc::new(query);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let query = query.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in (c..count).step_by(clients) {
                    let t = Instant::now();
                    query(i).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    stats(all, started.elapsed())
}

fn floor(vectors: Arc<Vec<f32>>, queries: Arc<Vec<Vec<f32>>>, clients: usize) -> Stats {
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let vectors = vectors.clone();
            let queries = queries.clone();
            std::thread::spawn(move || {
                (c..query_count())
                    .step_by(clients)
                    .map(|i| {
                        let t = Instant::now();
                        std::hint::black_box(brute_force(&vectors, &queries[i]));
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    stats(all, started.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Where the table lives: `dir`, or with `RETRIEVAL_S3=http://endpoint` a
/// new prefix of the bucket `RETRIEVAL_S3_BUCKET` (default `ragway-bench`)
/// there, keys from the `AWS_*` environment (`bench/storage.sh`).
fn location(dir: &tempfile::TempDir) -> (String, S3Options) {
    match std::env::var("RETRIEVAL_S3") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let bucket = std::env::var("RETRIEVAL_S3_BUCKET").unwrap_or("ragway-bench".into());
            let prefix = uuid::Uuid::new_v4().simple();
            let s3 = S3Options {
                endpoint: Some(endpoint),
                region: Some("us-east-1".into()),
                path_style: true,
                allow_http: true,
            };
            (format!("s3://{bucket}/{prefix}"), s3)
        }
        _ => (dir.path().display().to_string(), S3Options::default()),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: then a
    // small smoke run shows the benchmark still works.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    if !benchmarking {
        QUERIES.set(8).expect("set once");
    }
    let default_sizes = if benchmarking { "10000,100000" } else { "600" };
    let sizes: Vec<usize> = std::env::var("RETRIEVAL_SIZES")
        .unwrap_or_else(|_| default_sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("RETRIEVAL_SIZES: numbers"))
        .collect();
    println!(
        "| rows | search | clients | p50 ms | p99 ms | queries/s | p50 / floor p50 | recall@10 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for rows in sizes {
        let mut rng = StdRng::seed_from_u64(7);
        let corpus = corpus(rows, &mut rng);
        let dir = tempfile::tempdir().unwrap();
        let (uri, s3) = location(&dir);
        // The index is built when this bench says (after the exact scans),
        // not by the upkeep that runs once a table goes quiet.
        let store = VectorStore::open_with(&uri, &s3)
            .await
            .unwrap()
            .with_quiet_period(Duration::from_secs(86_400));
        let load = Instant::now();
        for start in (0..rows).step_by(10_000) {
            let end = (start + 10_000).min(rows);
            let chunks: Vec<NewChunk> = (start..end)
                .map(|row| NewChunk {
                    id: format!("c{row}"),
                    document_id: format!("d{}", row / 10),
                    generation: "g".into(),
                    collection: if row % 10 == 0 {
                        "other".into()
                    } else {
                        "default".into()
                    },
                    ordinal: (row % 10) as i32,
                    title: format!("doc {}", row / 10),
                    page: None,
                    heading: None,
                    text: corpus.texts[row].clone(),
                    vector: corpus.vectors[row * DIM..(row + 1) * DIM].to_vec(),
                })
                .collect();
            store.add(TABLE, chunks).await.unwrap();
        }
        eprintln!(
            "{rows} rows loaded in {:.1} s",
            load.elapsed().as_secs_f64()
        );

        // Queries: stored vectors nudged off their place; texts: three words of a stored chunk.
        let picks: Vec<usize> = (0..query_count())
            .map(|_| rng.random_range(0..rows))
            .collect();
        let queries: Vec<Vec<f32>> = picks
            .iter()
            .map(|&row| {
                let mut v: Vec<f32> = corpus.vectors[row * DIM..(row + 1) * DIM]
                    .iter()
                    .map(|x| x + (rng.random::<f32>() - 0.5) * 0.05)
                    .collect();
                normalise(&mut v);
                v
            })
            .collect();
        let words: Vec<String> = picks
            .iter()
            .map(|&row| {
                corpus.texts[row]
                    .split(' ')
                    .step_by(20)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let vectors = Arc::new(corpus.vectors);
        let queries = Arc::new(queries);
        let words = Arc::new(words);
        let exact: Vec<Vec<String>> = queries
            .iter()
            .map(|q| {
                brute_force(&vectors, q)
                    .into_iter()
                    .map(|r| format!("c{r}"))
                    .collect()
            })
            .collect();

        let mut floors = Vec::new();
        for clients in [1, 4] {
            let s = floor(vectors.clone(), queries.clone(), clients);
            println!(
                "| {rows} | brute-force scan (floor) | {clients} | {} | {} | {:.0} | 1.0 | 1.0 |",
                ms(s.p50),
                ms(s.p99),
                s.per_second
            );
            floors.push(s.p50);
        }

        let scope = Scope::default();
        let run = |label: &'static str,
                   recall: Option<f64>,
                   s: &Stats,
                   clients: usize,
                   floor: Duration| {
            println!(
                "| {rows} | {label} | {clients} | {} | {} | {:.0} | {:.1} | {} |",
                ms(s.p50),
                ms(s.p99),
                s.per_second,
                s.p50.as_secs_f64() / floor.as_secs_f64(),
                recall.map_or("—".to_string(), |r| format!("{r:.3}"))
            );
        };
        let recall = |store: VectorStore,
                      queries: Arc<Vec<Vec<f32>>>,
                      exact: Vec<Vec<String>>,
                      count: usize| async move {
            let mut found = 0;
            for (q, truth) in queries.iter().zip(&exact).take(count) {
                let hits = store.search(TABLE, q, K, Scope::default()).await.unwrap();
                found += hits.iter().filter(|h| truth.contains(&h.chunk_id)).count();
            }
            found as f64 / (K * count.min(queries.len())) as f64
        };

        let vector_modes: [(&str, bool); 2] =
            [("vector, exact scan", false), ("vector, ANN index", true)];
        for (label, indexed) in vector_modes {
            if indexed {
                let t = Instant::now();
                let built = store.index_vectors_now(TABLE).await.unwrap();
                eprintln!(
                    "vector index built: {built} in {:.1} s",
                    t.elapsed().as_secs_f64()
                );
            }
            let count = if !indexed && rows >= EXACT_SCAN_FEW_FROM {
                EXACT_SCAN_QUERIES.min(query_count())
            } else {
                query_count()
            };
            let r = recall(store.clone(), queries.clone(), exact.clone(), count).await;
            for (i, clients) in [1, 4].into_iter().enumerate() {
                let (store, queries) = (store.clone(), queries.clone());
                let s = measure(clients, count, move |i| {
                    let (store, queries) = (store.clone(), queries.clone());
                    async move {
                        store.search(TABLE, &queries[i], K, scope).await.unwrap();
                    }
                })
                .await;
                run(label, Some(r), &s, clients, floors[i]);
            }
        }
        // As the upkeep does once a load goes quiet: every row joins the
        // full-text index (it was built from the first batch; later rows
        // would be scanned at every search).
        let t = Instant::now();
        store.compact(TABLE).await.unwrap();
        eprintln!(
            "indexes brought up to date in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        for (i, clients) in [1, 4].into_iter().enumerate() {
            let (store, queries, words) = (store.clone(), queries.clone(), words.clone());
            let s = measure(clients, query_count(), move |i| {
                let (store, queries, words) = (store.clone(), queries.clone(), words.clone());
                async move {
                    store
                        .text_search(TABLE, &words[i], K, scope)
                        .await
                        .unwrap()
                        .scored(&queries[i]);
                }
            })
            .await;
            run("full text", None, &s, clients, floors[i]);
        }
        for (i, clients) in [1, 4].into_iter().enumerate() {
            let (store, queries, words) = (store.clone(), queries.clone(), words.clone());
            let s = measure(clients, query_count(), move |i| {
                let (store, queries, words) = (store.clone(), queries.clone(), words.clone());
                async move {
                    let (a, b) = tokio::join!(
                        store.search(TABLE, &queries[i], 4 * K, scope),
                        store.text_search(TABLE, &words[i], 4 * K, scope),
                    );
                    a.unwrap();
                    b.unwrap().scored(&queries[i]);
                }
            })
            .await;
            run("hybrid (vector ∥ full text)", None, &s, clients, floors[i]);
        }
        if std::env::var_os("RETRIEVAL_TUNE").is_some() {
            tune(&store, rows, queries.clone(), words.clone(), &exact).await;
        }
        // With the filter every chat request carries (shared collections + the caller's own).
        let private = "~key".to_string();
        let filtered = Scope {
            collections: None,
            private_space: Some(Box::leak(private.into_boxed_str())),
            documents: None,
            everything: false,
        };
        let (store2, queries2) = (store.clone(), queries.clone());
        let s = measure(1, query_count(), move |i| {
            let (store, queries) = (store2.clone(), queries2.clone());
            async move {
                store.search(TABLE, &queries[i], K, filtered).await.unwrap();
            }
        })
        .await;
        run(
            "vector, ANN index, chat's collection filter",
            None,
            &s,
            1,
            floors[0],
        );
    }
}

/// One search variant's query, written against the LanceDB table directly.
#[derive(Clone, Copy)]
struct Variant {
    label: &'static str,
    nprobes: Option<usize>,
    ef: usize,
    refine: Option<u32>,
    all_columns: bool,
    filter: Option<&'static str>,
}

/// `RETRIEVAL_TUNE=1`: search parameters, selected columns and filters
/// side by side (1 client, 20 candidates as chat takes), to choose them.
async fn tune(
    store: &VectorStore,
    rows: usize,
    queries: Arc<Vec<Vec<f32>>>,
    words: Arc<Vec<String>>,
    exact: &[Vec<String>],
) {
    use futures::TryStreamExt;
    use lancedb::index::scalar::FullTextSearchQuery;
    use lancedb::query::{ExecutableQuery, QueryBase, Select};
    const WANTED: usize = 20;
    const NOT_LIKE: &str = "(collection NOT LIKE '~%') OR collection = '~key'";
    const IN_LIST: &str = "(collection IN ('default', 'other')) OR collection = '~key'";
    let table = store.table(TABLE).await.unwrap().unwrap();
    let base = Variant {
        label: "ef 100, refine 2, all columns (now)",
        nprobes: None,
        ef: 100,
        refine: Some(2),
        all_columns: true,
        filter: None,
    };
    let variants = [
        base,
        Variant {
            label: "id only",
            all_columns: false,
            ..base
        },
        Variant {
            label: "ef 50",
            ef: 50,
            ..base
        },
        Variant {
            label: "ef 30",
            ef: 30,
            ..base
        },
        Variant {
            label: "no refine",
            refine: None,
            ..base
        },
        Variant {
            label: "nprobes 10",
            nprobes: Some(10),
            ..base
        },
        Variant {
            label: "nprobes 5",
            nprobes: Some(5),
            ..base
        },
        Variant {
            label: "nprobes 10, ef 50",
            nprobes: Some(10),
            ef: 50,
            ..base
        },
        Variant {
            label: "filter NOT LIKE (now)",
            filter: Some(NOT_LIKE),
            ..base
        },
        Variant {
            label: "filter IN list",
            filter: Some(IN_LIST),
            ..base
        },
    ];
    let run_vectors = |variants: Vec<Variant>, note: &'static str| {
        let (table, queries) = (table.clone(), queries.clone());
        async move {
            for v in variants {
                let mut found = 0;
                let mut latencies = Vec::new();
                let mut failed = false;
                let started = Instant::now();
                for (i, q) in queries.iter().enumerate() {
                    let columns: Vec<&str> = if v.all_columns {
                        COLUMNS.to_vec()
                    } else {
                        vec!["id"]
                    };
                    let t = Instant::now();
                    let mut query = table
                        .query()
                        .nearest_to(q.as_slice())
                        .unwrap()
                        .distance_type(lancedb::DistanceType::Cosine)
                        .ef(v.ef)
                        .limit(WANTED)
                        .select(Select::columns(&columns));
                    if let Some(n) = v.nprobes {
                        query = query.nprobes(n).unwrap();
                    }
                    if let Some(r) = v.refine {
                        query = query.refine_factor(r);
                    }
                    if let Some(f) = v.filter {
                        query = query.only_if(f);
                    }
                    let run = async { query.execute().await?.try_collect::<Vec<_>>().await };
                    let batches: Vec<lancedb::arrow::arrow_array::RecordBatch> = match run.await {
                        Ok(batches) => batches,
                        Err(err) => {
                            eprintln!("{}: {err}", v.label);
                            failed = true;
                            break;
                        }
                    };
                    latencies.push(t.elapsed());
                    let mut ids = Vec::new();
                    for b in &batches {
                        let col = b
                            .column_by_name("id")
                            .unwrap()
                            .as_any()
                            .downcast_ref::<lancedb::arrow::arrow_array::StringArray>()
                            .unwrap();
                        ids.extend((0..b.num_rows()).map(|r| col.value(r).to_string()));
                    }
                    if v.filter.is_none() {
                        found += ids
                            .iter()
                            .take(K)
                            .filter(|id| exact[i].contains(id))
                            .count();
                    }
                }
                if failed {
                    println!(
                        "| {rows} | tune: vector, {}{note} | 1 | failed | — | — | — | — |",
                        v.label
                    );
                    continue;
                }
                let s = stats(latencies, started.elapsed());
                let recall = if v.filter.is_none() {
                    format!("{:.3}", found as f64 / (K * queries.len()) as f64)
                } else {
                    "—".into()
                };
                println!(
                    "| {rows} | tune: vector, {}{note} | 1 | {} | {} | {:.0} | — | {recall} |",
                    v.label,
                    ms(s.p50),
                    ms(s.p99),
                    s.per_second
                );
            }
        }
    };
    run_vectors(variants.to_vec(), "").await;
    let run_text = |label: &'static str, with_vector: bool, filter: Option<&'static str>| {
        let (table, words) = (table.clone(), words.clone());
        async move {
            let mut latencies = Vec::new();
            let started = Instant::now();
            for w in words.iter() {
                let mut columns = COLUMNS.to_vec();
                if with_vector {
                    columns.push("vector");
                }
                let t = Instant::now();
                let mut query = table
                    .query()
                    .full_text_search(FullTextSearchQuery::new(w.clone()))
                    .select(Select::columns(&columns))
                    .limit(WANTED);
                if let Some(f) = filter {
                    query = query.only_if(f);
                }
                let batches: Vec<lancedb::arrow::arrow_array::RecordBatch> =
                    query.execute().await.unwrap().try_collect().await.unwrap();
                std::hint::black_box(batches);
                latencies.push(t.elapsed());
            }
            let s = stats(latencies, started.elapsed());
            println!(
                "| {rows} | tune: full text, {label} | 1 | {} | {} | {:.0} | — | — |",
                ms(s.p50),
                ms(s.p99),
                s.per_second
            );
        }
    };
    run_text("with vectors (now)", true, None).await;
    run_text("without vectors", false, None).await;
    run_text("filter NOT LIKE (now)", true, Some(NOT_LIKE)).await;
    run_text("filter IN list", true, Some(IN_LIST)).await;
    let t = Instant::now();
    table
        .create_index(
            &["collection"],
            lancedb::index::Index::Bitmap(Default::default()),
        )
        .execute()
        .await
        .unwrap();
    eprintln!(
        "bitmap index on collection built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    run_vectors(
        vec![
            Variant {
                label: "filter NOT LIKE",
                filter: Some(NOT_LIKE),
                ..base
            },
            Variant {
                label: "filter IN list",
                filter: Some(IN_LIST),
                ..base
            },
        ],
        ", bitmap index",
    )
    .await;
    run_text("filter NOT LIKE, bitmap index", true, Some(NOT_LIKE)).await;
    run_text("filter IN list, bitmap index", true, Some(IN_LIST)).await;
}
