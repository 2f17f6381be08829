//! Extraction in a short-lived child process, so that a file that makes a
//! parser panic, loop, overflow its stack or inflate to gigabytes fails its
//! own document and nothing else.
//!
//! The server runs `PROGRAM extract-child --mime TYPE --max-inflated-bytes N`
//! (the same executable, a hidden subcommand) with the upload on stdin, an
//! empty environment, and resource limits set between fork and exec: memory
//! (`RLIMIT_DATA`: heap and anonymous mappings, not the executable's own
//! pages), CPU seconds, open files, no core files. It kills the child when
//! the time limit passes, and reads at most a bounded number of bytes back.
//! The child answers on stdout with one JSON header line, then the text:
//!
//! ```text
//! {"ok":true,"page_starts":[0,812],"text_bytes":1500}\n<1500 bytes of UTF-8>
//! {"ok":false,"error":"the PDF could not be read: …"}\n
//! ```
//!
//! How the child ended tells the reason a document failed: a panic (exit
//! 101, its message on stderr), an allocation that the memory limit refused
//! (Rust aborts with "memory allocation of N bytes failed"), a stack
//! overflow, SIGXCPU for the CPU limit, or our own kill for the time limit.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::answer::{set_limit, MALLOC_CONF};
use super::zygote::Zygote;
use super::{Extracted, Format};
use crate::config::Settings;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "extract-child";
/// Exit status of a Rust program that panicked.
const PANIC_EXIT: i32 = 101;
/// The most of the child's stderr kept (a panic message, an abort line).
const MAX_STDERR: usize = 64 * 1024;
/// The most the JSON header line may take (page offsets of a long PDF).
const MAX_HEADER: usize = 8 * 1024 * 1024;

/// The limits one extraction runs under.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Heap and anonymous mappings of the child, in bytes.
    pub memory_bytes: u64,
    /// CPU seconds of the child.
    pub cpu_secs: u64,
    /// Open file descriptors of the child.
    pub open_files: u64,
    /// Wall-clock time until the child is killed.
    pub wall: Duration,
    /// Bytes a PDF's page content may inflate to.
    pub max_inflated: u64,
    /// Bytes of extracted text read back.
    pub max_text: usize,
    /// Documents one forked child reads, one at a time, before a fresh
    /// fork replaces it (1: a new process for every document).
    pub docs_per_process: u32,
}

impl Limits {
    /// The limits the settings ask for.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            memory_bytes: settings.extract_memory_mb.saturating_mul(1024 * 1024),
            cpu_secs: settings
                .extract_cpu_secs
                .unwrap_or(settings.extract_timeout_secs)
                .max(1),
            open_files: settings.extract_open_files.max(16),
            wall: Duration::from_secs(settings.extract_timeout_secs.max(1)),
            // A multiple of the largest upload: more than any real file's page content.
            max_inflated: (settings.max_body_bytes as u64).saturating_mul(8),
            max_text: settings
                .max_body_bytes
                .saturating_mul(4)
                .max(16 * 1024 * 1024),
            docs_per_process: settings.extract_docs_per_process.max(1),
        }
    }
}

/// Runs extractions in child processes, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct Extractor {
    program: PathBuf,
    limits: Limits,
    permits: Arc<Semaphore>,
    /// Idle zygotes to fork extractions from; `None`: start
    /// `PROGRAM extract-child` for each extraction instead.
    zygotes: Option<Arc<Mutex<Vec<Zygote>>>>,
    /// Child processes started so far (forks or programs).
    started: Arc<AtomicU64>,
}

/// What the child writes before the text.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Header {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub page_starts: Vec<usize>,
    #[serde(default)]
    pub text_bytes: usize,
}

/// How a child's run ended, before it is put into words.
struct Finished {
    /// The exit code, when the child exited.
    code: Option<i32>,
    /// The signal that ended it, when one did.
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Extractor {
    /// An extractor running `program` (by default this executable).
    pub fn new(
        program: Option<PathBuf>,
        limits: Limits,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        let program = match program {
            Some(program) => program,
            None => std::env::current_exe().map_err(|e| {
                anyhow::anyhow!("cannot find this executable to run text extraction in: {e}")
            })?,
        };
        Ok(Self {
            program,
            limits,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            zygotes: Some(Arc::default()),
            started: Arc::default(),
        })
    }

    /// An extractor that starts `program extract-child` for every
    /// extraction (no zygote): slower to start, and what a stand-in script
    /// can play in tests.
    pub fn direct(program: PathBuf, limits: Limits, concurrency: usize) -> Self {
        Self {
            program,
            limits,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            zygotes: None,
            started: Arc::default(),
        }
    }

    /// The extractor the settings describe.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Self::new(
            settings.extract_program.clone(),
            Limits::from_settings(settings),
            settings.extract_concurrency,
        )
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many child processes have read documents so far: with
    /// `docs_per_process` N, one for every N documents (or fewer), plus
    /// one after each that crashed or was stopped.
    pub fn children_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// The text of `bytes`, extracted in a child process; on failure, a
    /// reason a person can act on.
    pub async fn extract(&self, format: Format, bytes: Bytes) -> Result<Extracted, String> {
        self.extract_until(format, bytes, tokio::time::sleep(self.limits.wall))
            .await
    }

    /// [`Extractor::extract`], the child killed when `deadline` resolves
    /// rather than after the time limit (tests end a child at once this way).
    pub async fn extract_until(
        &self,
        format: Format,
        bytes: Bytes,
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<Extracted, String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "text extraction is shutting down".to_string())?;
        if format.is_plain_text() {
            return self.decode(bytes).await;
        }
        let finished = match &self.zygotes {
            Some(zygotes) => self.in_zygote(zygotes, format, bytes, deadline).await?,
            None => self.in_own_process(format, bytes, deadline).await?,
        };
        self.understand(format, finished)
    }

    /// Plain text needs no parser, only a decoder: a BOM check, UTF-8
    /// validation or an encoding guess, each linear in the input and with
    /// an output at most a few times its size (and fuzzed: `detect_decode`).
    /// Nothing in it can loop, recurse or allocate without bound, so it runs
    /// here on the blocking pool, where a child would only add the cost of
    /// copying the bytes twice (BENCHMARKS.md: 0.07x for 50 MB of text).
    async fn decode(&self, bytes: Bytes) -> Result<Extracted, String> {
        let text = tokio::task::spawn_blocking(move || super::decode_text(&bytes))
            .await
            .map_err(|e| format!("the text decoder failed: {e}"))?;
        if text.len() > self.limits.max_text {
            return Err(self.too_long());
        }
        Ok(text.into())
    }

    fn stopped(&self, format: Format) -> String {
        format!(
            "the {} was stopped after {} s (RAGWAY_EXTRACT_TIMEOUT_SECS)",
            parser(format),
            self.limits.wall.as_secs()
        )
    }

    fn too_long(&self) -> String {
        format!(
            "the text extracted from this file is larger than {} MiB",
            self.limits.max_text / (1024 * 1024)
        )
    }

    /// A fork of an idle zygote (started if none is idle) does the work.
    async fn in_zygote(
        &self,
        zygotes: &Mutex<Vec<Zygote>>,
        format: Format,
        bytes: Bytes,
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<Finished, String> {
        let idle = zygotes.lock().expect("zygote pool").pop();
        let mut zygote = match idle {
            Some(zygote) => zygote,
            None => Zygote::start(&self.program).map_err(|e| {
                tracing::error!(program = %self.program.display(), error = %e, "cannot start the extraction zygote");
                format!("text extraction could not start: {e}")
            })?,
        };
        let max_output = self.limits.max_text + MAX_HEADER;
        let run = async {
            if zygote
                .send(format, &bytes, &self.limits, max_output)
                .await?
            {
                self.started.fetch_add(1, Ordering::Relaxed);
            }
            zygote.outcome(max_output).await
        };
        let outcome = tokio::select! {
            outcome = run => Some(outcome),
            () = deadline => None,
        };
        let outcome = match outcome {
            Some(Ok(outcome)) => outcome,
            Some(Err(e)) => {
                zygote.kill().await;
                return Err(format!("text extraction failed: {e}"));
            }
            None => {
                // The fork is killed by its zygote (which has not reaped it,
                // so the pid is still its own); the zygote is not reused.
                let _ = zygote.kill_fork().await;
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), zygote.outcome(max_output)).await;
                zygote.kill().await;
                return Err(self.stopped(format));
            }
        };
        zygotes.lock().expect("zygote pool").push(zygote);
        if outcome.report.too_long {
            return Err(self.too_long());
        }
        Ok(Finished {
            code: outcome.report.code,
            signal: outcome.report.signal,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
        })
    }

    /// `PROGRAM extract-child` started for this extraction alone.
    async fn in_own_process(
        &self,
        format: Format,
        bytes: Bytes,
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<Finished, String> {
        let mut child = self.spawn(format)?;
        self.started.fetch_add(1, Ordering::Relaxed);
        let run = talk(&mut child, bytes, self.limits.max_text + MAX_HEADER);
        let finished = tokio::select! {
            finished = run => Some(finished),
            () = deadline => None,
        };
        let Some(finished) = finished else {
            let _ = child.kill().await;
            return Err(self.stopped(format));
        };
        match finished {
            Ok(Some(finished)) => Ok(finished),
            Ok(None) => {
                let _ = child.kill().await;
                Err(self.too_long())
            }
            Err(e) => {
                let _ = child.kill().await;
                Err(format!("text extraction failed: {e}"))
            }
        }
    }

    fn spawn(&self, format: Format) -> Result<tokio::process::Child, String> {
        let limits = self.limits.clone();
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg(SUBCOMMAND)
            .arg("--mime")
            .arg(format.mime())
            .arg("--max-inflated-bytes")
            .arg(limits.max_inflated.to_string())
            // Nothing of the server's environment (upstream keys, S3 credentials) reaches a parser.
            .env_clear()
            .env(MALLOC_CONF.0, MALLOC_CONF.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: between fork and exec only setrlimit, which is async-signal-safe, runs.
        unsafe {
            command.pre_exec(move || {
                set_limit(libc::RLIMIT_DATA, limits.memory_bytes, limits.memory_bytes)?;
                // The soft limit sends SIGXCPU (told apart below); the hard one a second later SIGKILL.
                set_limit(libc::RLIMIT_CPU, limits.cpu_secs, limits.cpu_secs + 1)?;
                set_limit(libc::RLIMIT_NOFILE, limits.open_files, limits.open_files)?;
                set_limit(libc::RLIMIT_CORE, 0, 0)?;
                Ok(())
            });
        }
        command.spawn().map_err(|e| {
            tracing::error!(program = %self.program.display(), error = %e, "cannot start the extraction child");
            format!("text extraction could not start: {e}")
        })
    }

    /// A child's run put into words: its text, the parser's own error, or
    /// how it died.
    fn understand(&self, format: Format, finished: Finished) -> Result<Extracted, String> {
        let Finished {
            code,
            signal,
            stdout,
            stderr,
        } = finished;
        let stderr = String::from_utf8_lossy(&stderr);
        if code == Some(0) {
            return parse_answer(&stdout)
                .map_err(|e| format!("the {}'s answer could not be read: {e}", parser(format)))?;
        }
        let limits = &self.limits;
        let parser = parser(format);
        if stderr.contains("memory allocation of") {
            return Err(format!(
                "the {parser} ran out of its {} memory limit (RAGWAY_EXTRACT_MEMORY_MB)",
                size(limits.memory_bytes)
            ));
        }
        if stderr.contains("has overflowed its stack") {
            return Err(format!(
                "the {parser} overflowed its stack on this file (too deeply nested?)"
            ));
        }
        match (code, signal) {
            (Some(PANIC_EXIT), _) => {
                let message = stderr
                    .lines()
                    .find_map(|line| line.strip_prefix("panic: "))
                    .unwrap_or("no message");
                Err(format!(
                    "the {parser} crashed on this file: {}",
                    clip(message, 300)
                ))
            }
            (_, Some(libc::SIGXCPU)) => Err(format!(
                "the {parser} used up its {} s of CPU time (RAGWAY_EXTRACT_CPU_SECS)",
                limits.cpu_secs
            )),
            // Not ours (we kill only on time, above): the kernel's out-of-memory killer.
            (_, Some(libc::SIGKILL)) => Err(format!(
                "the {parser} was killed by the system (out of memory?)"
            )),
            (_, Some(signal)) => Err(format!(
                "the {parser} crashed on this file (signal {})",
                signal_name(signal)
            )),
            (code, None) => Err(format!(
                "the {parser} failed on this file (exit status {})",
                code.unwrap_or(-1)
            )),
        }
    }
}

/// Writes the upload, reads both outputs (bounded) and waits for the exit,
/// all at once so that no pipe fills up and stalls the child; `None` when
/// it sent more than `max_stdout` (the caller kills it).
async fn talk(
    child: &mut tokio::process::Child,
    bytes: Bytes,
    max_stdout: usize,
) -> std::io::Result<Option<Finished>> {
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let write = async move {
        // A child that stops reading early (it failed) closes the pipe: not our error.
        let _ = stdin.write_all(&bytes).await;
        drop(stdin);
    };
    let (_, stdout, stderr) = tokio::join!(
        write,
        read_bounded(stdout, max_stdout),
        read_bounded(stderr, MAX_STDERR)
    );
    let Ok(stdout) = stdout? else {
        return Ok(None);
    };
    let status = child.wait().await?;
    Ok(Some(Finished {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr: stderr?.unwrap_or_else(|()| b"(stderr too long)".to_vec()),
    }))
}

/// Everything `reader` sends, or `Err(())` once it passes `max` bytes.
async fn read_bounded(
    reader: impl AsyncRead + Unpin,
    max: usize,
) -> std::io::Result<Result<Vec<u8>, ()>> {
    let mut out = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut out).await?;
    Ok(if out.len() > max { Err(()) } else { Ok(out) })
}

/// The child's answer: the header line, then the text it announces.
fn parse_answer(stdout: &[u8]) -> Result<Result<Extracted, String>, String> {
    let newline = stdout
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header: Header =
        serde_json::from_slice(&stdout[..newline]).map_err(|e| format!("bad header: {e}"))?;
    if !header.ok {
        return Ok(Err(header
            .error
            .unwrap_or_else(|| "the file could not be read".into())));
    }
    let text = &stdout[newline + 1..];
    if text.len() != header.text_bytes {
        return Err(format!(
            "{} bytes of text announced, {} sent",
            header.text_bytes,
            text.len()
        ));
    }
    let text = String::from_utf8(text.to_vec()).map_err(|_| "the text is not UTF-8")?;
    if header
        .page_starts
        .iter()
        .any(|&start| start > text.len() || !text.is_char_boundary(start))
    {
        return Err("a page offset lies outside the text".into());
    }
    Ok(Ok(Extracted {
        text,
        page_starts: header.page_starts,
    }))
}

/// Which parser a format goes through, for error messages.
fn parser(format: Format) -> &'static str {
    match format {
        Format::Pdf => "PDF parser",
        Format::Html => "HTML parser",
        Format::Docx => "Word document parser",
        Format::Text | Format::Markdown | Format::Csv | Format::Json => "text decoder",
    }
}

fn size(bytes: u64) -> String {
    const GIB: u64 = 1024 * 1024 * 1024;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes / (1024 * 1024))
    }
}

fn clip(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGTERM => "SIGTERM".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_and_checked() {
        let ok = b"{\"ok\":true,\"page_starts\":[0,3],\"text_bytes\":6}\nab\n\ncd";
        let extracted = parse_answer(ok).unwrap().unwrap();
        assert_eq!(extracted.text, "ab\n\ncd");
        assert_eq!(extracted.page_starts, vec![0, 3]);
        let failed = b"{\"ok\":false,\"error\":\"the PDF could not be read: x\"}\n";
        assert_eq!(
            parse_answer(failed).unwrap().unwrap_err(),
            "the PDF could not be read: x"
        );
        assert!(parse_answer(b"{\"ok\":true,\"text_bytes\":9}\nab").is_err());
        assert!(parse_answer(b"{\"ok\":true,\"page_starts\":[7],\"text_bytes\":2}\nab").is_err());
        assert!(parse_answer(b"no header").is_err());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(1024 * 1024 * 1024), "1 GiB");
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(clip("héllo", 2), "hé");
    }
}
