//! Hostile uploads: parsers that crash, overflow, inflate or loop fail their
//! document alone, in a child process, and the server goes on.
//!
//! Each upload case checks afterwards that `/health` answers, that an
//! ordinary document still ingests to `ready`, and that what was stored
//! before is still there. The child's ways of dying (signals, the CPU and
//! memory limits, too much output) are checked on the [`Extractor`] itself,
//! with the real binary or small shell scripts standing in for a parser.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use ragway::ingest::extract::child::Limits;
use ragway::ingest::extract::{Extractor, Format};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, wait_for, TestApp};

/// A page of `depth` nested `<span>`s around one sentence (200,000 of them
/// overflowed the server's stack when the DOM was walked recursively).
fn nested_html(depth: usize) -> Vec<u8> {
    format!(
        "<!DOCTYPE html><html><body>{}The nested harbour page survives.{}</body></html>",
        "<span>".repeat(depth),
        "</span>".repeat(depth)
    )
    .into_bytes()
}

/// A one-page PDF whose page lists one FlateDecode stream `repeats` times;
/// the stream inflates to `inflated` bytes of spaces.
fn repeated_stream_pdf(inflated: usize, repeats: usize) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; inflated]).unwrap();
    let stream = encoder.finish().unwrap();
    let contents = vec!["4 0 R"; repeats].join(" ");
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [{contents}] >>")
            .into_bytes(),
        [
            format!(
                "<< /Length {} /Filter /FlateDecode >>\nstream\n",
                stream.len()
            )
            .into_bytes(),
            stream,
            b"\nendstream".to_vec(),
        ]
        .concat(),
    ];
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n", i + 1).into_bytes());
        pdf.extend(object);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").into_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .into_bytes(),
    );
    pdf
}

/// Uploads `bytes` as the user's private document and waits for its end:
/// the status and the document's error, if any.
async fn ingest_private(app: &TestApp, name: &str, bytes: Vec<u8>) -> (String, String, Value) {
    let mut events = app.state.ingest_events.subscribe();
    let form = Form::new()
        .text("visibility", "private")
        .part("file", Part::bytes(bytes).file_name(name.to_string()));
    let response = app.upload_form(&app.user_key, form).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    let status = wait_for(&mut events, &id).await.to_string();
    let document = app.document(&id).await;
    (id, status, document)
}

/// An app holding one ordinary document: its id and chunk count.
async fn app_with_a_document() -> (TestApp, String, usize) {
    let app = spawn_app().await;
    let earlier = app
        .ingest_text("Before", "The lighthouse keeper lights the lamp at dusk.")
        .await;
    let chunks = app.stored_chunks(&earlier).await;
    (app, earlier, chunks)
}

/// The server goes on: `/health` answers, an ordinary document ingests, and
/// the document stored before the hostile one still has its chunks.
async fn server_goes_on(app: &TestApp, earlier: &str, earlier_chunks: usize) {
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let id = app
        .ingest_text("After", "The ferry leaves at seven every morning.")
        .await;
    assert_eq!(app.document(&id).await["status"], "ready");
    assert_eq!(app.document(earlier).await["status"], "ready");
    assert_eq!(app.stored_chunks(earlier).await, earlier_chunks);
}

#[tokio::test]
async fn deeply_nested_html_is_read_not_fatal() {
    let (app, earlier, chunks) = app_with_a_document().await;
    let (id, status, document) = ingest_private(&app, "nested.html", nested_html(200_000)).await;
    assert_eq!(status, "ready", "{document}");
    assert!(app.stored_chunks(&id).await > 0);
    server_goes_on(&app, &earlier, chunks).await;
}

#[tokio::test]
async fn a_pdf_decompression_bomb_fails_alone() {
    let (app, earlier, chunks) = app_with_a_document().await;
    // 64 MiB inflated, named 16 times: 1 GiB of page content, past 8 × the 50 MiB upload limit.
    let bomb = repeated_stream_pdf(64 * 1024 * 1024, 16);
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    let (id, status, document) = ingest_private(&app, "bomb.pdf", bomb).await;
    assert_eq!(status, "failed", "{document}");
    let error = document["error"].as_str().unwrap();
    assert!(error.contains("decompression bomb"), "{error}");
    assert_eq!(app.stored_chunks(&id).await, 0);
    // Failed for good: no job is left to claim it again.
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
    server_goes_on(&app, &earlier, chunks).await;
}

#[tokio::test]
async fn a_file_a_parser_panics_on_is_read_by_the_next_one() {
    let (app, earlier, chunks) = app_with_a_document().await;
    // A Type0 font without descendant fonts makes pdf-extract panic; lopdf's
    // extractor, tried next in the same child, reads the page.
    let crash = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/crash.pdf")).unwrap();
    let (id, status, document) = ingest_private(&app, "crash.pdf", crash).await;
    assert_eq!(status, "ready", "{document}");
    assert!(app.stored_chunks(&id).await > 0);
    server_goes_on(&app, &earlier, chunks).await;
}

/// Limits for direct runs: roomy unless a test narrows one.
fn limits() -> Limits {
    Limits {
        memory_bytes: 1024 * 1024 * 1024,
        cpu_secs: 30,
        open_files: 64,
        wall: Duration::from_secs(60),
        max_inflated: 1 << 30,
        max_text: 16 * 1024 * 1024,
        docs_per_process: 64,
    }
}

fn real_binary(limits: Limits) -> Extractor {
    Extractor::new(Some(env!("CARGO_BIN_EXE_ragway").into()), limits, 2).unwrap()
}

/// A shell script standing in for the extraction child.
fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn run_script(body: &str, limits: Limits) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let program = script(&dir, "child.sh", body);
    Extractor::direct(program, limits, 1)
        .extract(Format::Html, Bytes::from_static(b"<p>some text</p>"))
        .await
        .map(|extracted| extracted.text)
}

#[tokio::test]
async fn the_child_answers_text_and_pages() {
    let extractor = real_binary(limits());
    let tides = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tides.pdf")).unwrap();
    let doc = extractor.extract(Format::Pdf, tides.into()).await.unwrap();
    assert_eq!(doc.page_starts.len(), 3, "{doc:?}");
    assert!(doc.text[doc.page_starts[2]..]
        .trim_start()
        .starts_with("Fog procedures"));
    let html = extractor
        .extract(
            Format::Html,
            Bytes::from_static(b"<h1>Tides</h1><p>High at noon.</p>"),
        )
        .await
        .unwrap();
    assert_eq!(html.text, "# Tides\n\nHigh at noon.");
}

#[tokio::test]
async fn a_forked_child_past_the_time_limit_is_stopped_and_the_next_one_runs() {
    let extractor = real_binary(limits());
    let err = extractor
        .extract_until(Format::Html, Bytes::from_static(b"<p>x</p>"), async {})
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "the HTML parser was stopped after 60 s (RAGWAY_EXTRACT_TIMEOUT_SECS)"
    );
    // Its zygote was not reused; a new one serves the next extraction.
    let text = extractor
        .extract(Format::Html, Bytes::from_static(b"<p>the next one</p>"))
        .await
        .unwrap()
        .text;
    assert_eq!(text, "the next one");
}

/// `n` small pages, each with its own text, and the text each must give.
fn pages(n: usize) -> Vec<(Bytes, String)> {
    (0..n)
        .map(|i| {
            let text = format!("harbour notice {i}");
            (Bytes::from(format!("<p>{text}</p>")), text)
        })
        .collect()
}

#[tokio::test]
async fn one_child_reads_documents_one_after_another() {
    for docs_per_process in [1, 3, 64] {
        let extractor = real_binary(Limits {
            docs_per_process,
            ..limits()
        });
        for (page, text) in pages(10) {
            let extracted = extractor.extract(Format::Html, page).await.unwrap();
            assert_eq!(extracted.text, text, "docs_per_process {docs_per_process}");
        }
        // One zygote served them all (one at a time), its fork reused
        // for `docs_per_process` documents before a fresh one took over.
        assert_eq!(
            extractor.children_started(),
            10u64.div_ceil(u64::from(docs_per_process)),
            "docs_per_process {docs_per_process}"
        );
    }
}

#[tokio::test]
async fn a_child_out_of_memory_fails_its_own_document_only() {
    // A child killed by the memory limit (it would hold the 80 MiB upload,
    // more than 64 MiB) is named so; the documents before and after it, read
    // by the same zygote's children, are not touched.
    let tight = real_binary(Limits {
        memory_bytes: 64 * 1024 * 1024,
        docs_per_process: 3,
        ..limits()
    });
    let mut big = b"<p>".to_vec();
    big.resize(80 * 1024 * 1024, b'a');
    for (i, (page, text)) in pages(8).into_iter().enumerate() {
        if i == 4 {
            let err = tight
                .extract(Format::Html, big.clone().into())
                .await
                .unwrap_err();
            assert_eq!(
                err,
                "the HTML parser ran out of its 64 MiB memory limit (RAGWAY_EXTRACT_MEMORY_MB)"
            );
        }
        assert_eq!(tight.extract(Format::Html, page).await.unwrap().text, text);
    }
    // Pages 0-2 in the first fork; page 3 and the big one in the second,
    // which the limit killed; pages 4-6 in a third, page 7 in a fourth:
    // the zygote, which read the big one too, keeps none of it.
    assert_eq!(tight.children_started(), 4);
}

#[tokio::test]
async fn plain_text_is_decoded_without_a_child() {
    // A program that fails every extraction: only parsed formats reach it.
    let dir = tempfile::tempdir().unwrap();
    let program = script(&dir, "child.sh", "exit 9");
    let extractor = Extractor::direct(program, limits(), 1);
    let gbk = b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7".to_vec();
    let text = extractor
        .extract(Format::Text, gbk.into())
        .await
        .unwrap()
        .text;
    assert_eq!(text, "你好，世界");
    let md = extractor
        .extract(Format::Markdown, Bytes::from_static(b"# Tides"))
        .await
        .unwrap();
    assert_eq!(md.text, "# Tides");
    let err = extractor
        .extract(Format::Html, Bytes::from_static(b"<p>x</p>"))
        .await
        .unwrap_err();
    assert_eq!(err, "the HTML parser failed on this file (exit status 9)");
    // The text limit holds for decoded text too.
    let small = Extractor::direct(
        dir.path().join("child.sh"),
        Limits {
            max_text: 1024 * 1024,
            ..limits()
        },
        1,
    );
    let err = small
        .extract(Format::Text, vec![b'a'; 2 * 1024 * 1024].into())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "the text extracted from this file is larger than 1 MiB"
    );
}

#[tokio::test]
async fn what_the_fuzzer_found_ends_quickly() {
    // fixtures/hostile/parent-cycle.pdf: a page that is its own /Parent made
    // pdf-extract loop until the time limit; it must end well before it.
    let extractor = real_binary(Limits {
        wall: Duration::from_secs(30),
        ..limits()
    });
    let found = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/hostile/parent-cycle.pdf"
    ))
    .unwrap();
    let outcome = extractor.extract(Format::Pdf, found.into()).await;
    assert!(
        outcome
            .as_ref()
            .err()
            .is_none_or(|error| !error.contains("stopped after")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_cpu_limit_is_named() {
    let err = run_script(
        "while :; do :; done",
        Limits {
            cpu_secs: 1,
            ..limits()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        "the HTML parser used up its 1 s of CPU time (RAGWAY_EXTRACT_CPU_SECS)"
    );
}

#[tokio::test]
async fn a_child_past_the_time_limit_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(&dir, "child.sh", "exec sleep 600");
    let extractor = Extractor::direct(program, limits(), 1);
    // The deadline passes at once: what the time limit does after 60 s.
    let err = extractor
        .extract_until(Format::Html, Bytes::from_static(b"<p>x</p>"), async {})
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "the HTML parser was stopped after 60 s (RAGWAY_EXTRACT_TIMEOUT_SECS)"
    );
}

#[tokio::test]
async fn crashes_and_overflows_are_told_apart() {
    let segv = run_script("cat >/dev/null; kill -SEGV $$", limits()).await;
    assert_eq!(
        segv.unwrap_err(),
        "the HTML parser crashed on this file (signal SIGSEGV)"
    );
    let overflow = run_script(
        "cat >/dev/null; echo \"thread 'main' has overflowed its stack\" >&2; kill -ABRT $$",
        limits(),
    )
    .await;
    assert!(overflow.unwrap_err().contains("overflowed its stack"));
    let panicked = run_script(
        "cat >/dev/null; echo 'panic: Descendant fonts required at lib.rs:974' >&2; exit 101",
        limits(),
    )
    .await;
    assert_eq!(
        panicked.unwrap_err(),
        "the HTML parser crashed on this file: Descendant fonts required at lib.rs:974"
    );
    let exit = run_script("exit 7", limits()).await;
    assert_eq!(
        exit.unwrap_err(),
        "the HTML parser failed on this file (exit status 7)"
    );
    let garbage = run_script("cat >/dev/null; echo not json", limits()).await;
    assert!(garbage.unwrap_err().contains("could not be read"));
}

#[tokio::test]
async fn children_run_no_more_than_the_concurrency_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (log, gate) = (dir.path().join("started"), dir.path().join("gate"));
    assert!(std::process::Command::new("mkfifo")
        .arg(&gate)
        .status()
        .unwrap()
        .success());
    // Each child notes its start, then waits until the test lets it finish.
    let program = script(
        &dir,
        "child.sh",
        &format!(
            "cat >/dev/null; echo started >> {log}; read line < {gate}; printf '{{\"ok\":true,\"text_bytes\":2}}\\nok'",
            log = log.display(),
            gate = gate.display()
        ),
    );
    let extractor = Extractor::direct(program, limits(), 1);
    let run = |extractor: Extractor| {
        tokio::spawn(async move {
            extractor
                .extract(Format::Html, Bytes::from_static(b"<p>x</p>"))
                .await
        })
    };
    let (first, second) = (run(extractor.clone()), run(extractor.clone()));
    let started = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // Opening the gate for writing waits for a child to be reading it.
    let open_gate = || {
        let gate = gate.clone();
        async move {
            tokio::task::spawn_blocking(move || std::fs::File::create(gate))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let mut writer = open_gate().await;
    assert_eq!(started(), 1, "only one child at a time");
    writer.write_all(b"go\n").unwrap();
    drop(writer);
    // Whichever got the slot ends; only then does the other start.
    let (done, other) = match futures::future::select(first, second).await {
        futures::future::Either::Left((done, other)) => (done, other),
        futures::future::Either::Right((done, other)) => (done, other),
    };
    assert_eq!(done.unwrap().unwrap().text, "ok");
    let mut writer = open_gate().await;
    assert_eq!(started(), 2);
    writer.write_all(b"go\n").unwrap();
    drop(writer);
    assert_eq!(other.await.unwrap().unwrap().text, "ok");
}

#[tokio::test]
async fn too_much_output_is_cut_off() {
    let err = run_script(
        "cat >/dev/null; echo '{\"ok\":true,\"text_bytes\":99999999}'; yes",
        Limits {
            max_text: 1024 * 1024,
            ..limits()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        "the text extracted from this file is larger than 1 MiB"
    );
}

#[tokio::test]
async fn the_child_gets_no_environment() {
    // Nothing of the server's, only the allocator's settings.
    std::env::var("PATH").expect("tests run with a PATH");
    let text = run_script(
        "cat >/dev/null; n=$(env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | tr '\\n' ' '); printf '{\"ok\":true,\"text_bytes\":%s}\\n%s' ${#n} \"$n\"",
        limits(),
    )
    .await
    .unwrap();
    assert_eq!(
        text,
        "_RJEM_MALLOC_CONF=retain:false,dirty_decay_ms:0,muzzy_decay_ms:0 "
    );
}
