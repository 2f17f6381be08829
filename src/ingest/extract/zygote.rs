//! Extraction children forked from a small "zygote" process instead of
//! started from the executable each time.
//!
//! Starting `ragway` costs ~8 ms on this project's 2-core VM however little
//! it does: the executable is large, and the loader applies ~435,000
//! relocations, each page it touches a copy-on-write fault. A zygote
//! (`ragway extract-zygote`, started once per concurrency slot with an empty
//! environment) pays that once. It forks a child, which sets its resource
//! limits before it parses a byte and then reads documents one at a time
//! from a pipe, answering each on another; after `docs_per_process` of them
//! (or once it holds half its memory limit, or if the limits change) the
//! zygote closes its pipe and forks a fresh one. A child that crashes, runs
//! out of memory or CPU, or is killed for time fails the one document it
//! was reading; the zygote reports how it ended and forks anew for the
//! next. Reading many documents in one child saves the fork and, above
//! all, the page faults of a fresh address space, which cost more than a
//! small PDF's parse (BENCHMARKS.md). A zygote that dies or garbles is
//! replaced; a child, not the zygote, is what a hostile file can kill.
//!
//! Frames, zygote stdin: a JSON [`Request`] line, then `input_bytes` bytes;
//! later, one byte asks it to kill the running fork (the time limit).
//! Zygote stdout: `{"pid":N}` when the fork has the document, then a JSON
//! [`Report`] line followed by the fork's answer and, if it ended, what it
//! printed (its stderr and stdout: answers go to a pipe of their own, so a
//! library's print cannot garble one).

use std::io::{BufRead, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::answer::{answer_to, install_panic_hook, set_limit, MALLOC_CONF};
use super::child::Limits;
use super::Format;

mod relay;
use relay::relay;

/// The hidden subcommand a zygote runs.
pub const SUBCOMMAND: &str = "extract-zygote";
/// The most a frame's JSON line may take.
const MAX_LINE: u64 = 64 * 1024;
/// The most of a fork's stderr relayed.
const MAX_STDERR: usize = 64 * 1024;

/// One extraction asked of a zygote.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    mime: String,
    max_inflated: u64,
    memory_bytes: u64,
    cpu_secs: u64,
    open_files: u64,
    /// Bytes of the fork's stdout relayed at most; past them it is killed.
    max_output: usize,
    input_bytes: usize,
    /// Documents one fork reads before a fresh one replaces it.
    #[serde(default = "one")]
    docs_per_process: u32,
}

fn one() -> u32 {
    1
}

/// One document handed from the zygote to its fork.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    mime: String,
    max_inflated: u64,
    cpu_secs: u64,
    input_bytes: usize,
}

/// The start of a fork's answer: enough to know where it ends.
#[derive(Deserialize)]
struct AnswerHeader {
    #[serde(default)]
    text_bytes: usize,
}

/// How a fork ended.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Report {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout_bytes: usize,
    pub stderr_bytes: usize,
    /// The fork wrote more than `max_output` and was killed for it.
    pub too_long: bool,
}

/// What the server gets back: the report and the fork's two outputs.
pub(super) struct Outcome {
    pub report: Report,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The server's handle on one zygote process.
#[derive(Debug)]
pub(super) struct Zygote {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: BufReader<tokio::process::ChildStdout>,
    /// The pid of the fork that read the last document.
    fork: Option<i32>,
}

impl Zygote {
    /// Starts `program extract-zygote` with an empty environment.
    pub fn start(program: &std::path::Path) -> std::io::Result<Self> {
        let mut child = tokio::process::Command::new(program)
            .arg(SUBCOMMAND)
            // Nothing of the server's environment (upstream keys, S3 credentials) reaches a parser.
            .env_clear()
            .env(MALLOC_CONF.0, MALLOC_CONF.1)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Self {
            child,
            stdin,
            stdout,
            fork: None,
        })
    }

    /// Sends one extraction; answers once a fork has the document, with
    /// whether that fork is a fresh one (not the one that read the last).
    pub async fn send(
        &mut self,
        format: Format,
        bytes: &[u8],
        limits: &Limits,
        max_output: usize,
    ) -> std::io::Result<bool> {
        let request = Request {
            mime: format.mime().into(),
            max_inflated: limits.max_inflated,
            memory_bytes: limits.memory_bytes,
            cpu_secs: limits.cpu_secs,
            open_files: limits.open_files,
            max_output,
            input_bytes: bytes.len(),
            docs_per_process: limits.docs_per_process,
        };
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.write_all(bytes).await?;
        self.stdin.flush().await?;
        #[derive(Deserialize)]
        struct Started {
            pid: i32,
        }
        let started: Started = serde_json::from_slice(&self.line().await?).map_err(bad)?;
        let fresh = self.fork != Some(started.pid);
        self.fork = Some(started.pid);
        Ok(fresh)
    }

    /// The fork's answer, when it has ended.
    pub async fn outcome(&mut self, max_output: usize) -> std::io::Result<Outcome> {
        let report: Report = serde_json::from_slice(&self.line().await?).map_err(bad)?;
        if report.stdout_bytes > max_output || report.stderr_bytes > MAX_STDERR {
            return Err(bad("a report larger than asked"));
        }
        let mut stdout = vec![0; report.stdout_bytes];
        self.stdout.read_exact(&mut stdout).await?;
        let mut stderr = vec![0; report.stderr_bytes];
        self.stdout.read_exact(&mut stderr).await?;
        Ok(Outcome {
            report,
            stdout,
            stderr,
        })
    }

    /// Asks the zygote to kill the running fork (its report follows).
    pub async fn kill_fork(&mut self) -> std::io::Result<()> {
        self.stdin.write_all(b"k").await?;
        self.stdin.flush().await
    }

    /// Ends the zygote at once (it garbled, or a call was given up).
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    async fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        (&mut self.stdout)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if line.last() != Some(&b'\n') {
            return Err(bad("the extraction zygote ended or garbled its answer"));
        }
        Ok(line)
    }
}

fn bad(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

/// The zygote's side: serve requests from stdin until it closes. Runs
/// single-threaded (before any runtime exists), so forking is safe.
pub fn run_zygote() -> i32 {
    install_panic_hook();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut fork: Option<Fork> = None;
    loop {
        let mut line = Vec::new();
        match (&mut input).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) => {
                if let Some(fork) = fork.take() {
                    fork.retire();
                }
                return 0;
            }
            Ok(_) if line.last() == Some(&b'\n') => {}
            _ => return 2,
        }
        let Ok(request) = serde_json::from_slice::<Request>(&line) else {
            return 2;
        };
        // One allocation of the exact size (a mapping of its own, for a
        // large file): a buffer grown by doubling at the top of the heap
        // would keep the heap that large after it is freed, and every fork
        // after it would start with half its memory limit spent.
        let mut bytes = Vec::new();
        if bytes.try_reserve_exact(request.input_bytes).is_err()
            || (&mut input)
                .take(request.input_bytes as u64)
                .read_to_end(&mut bytes)
                .is_err()
            || bytes.len() != request.input_bytes
        {
            return 2;
        }
        if Format::from_mime(&request.mime).is_none() {
            return 2;
        }
        if serve_one(&request, bytes, &mut fork, &mut out).is_err() {
            return 3;
        }
    }
}

/// A fork that reads documents from the zygote, one at a time.
struct Fork {
    pid: i32,
    /// Jobs to it (its stdin).
    jobs: std::fs::File,
    /// Its answers.
    answers: OwnedFd,
    /// Its stderr and stdout (whatever a library prints), for the reason it died.
    talk: OwnedFd,
    served: u32,
    memory_bytes: u64,
    open_files: u64,
}

impl Fork {
    /// Forks a reader under the request's memory and file limits.
    fn start(request: &Request) -> std::io::Result<Self> {
        let (jobs_read, jobs_write) = pipe()?;
        let (answers_read, answers_write) = pipe()?;
        let (talk_read, talk_write) = pipe()?;
        // SAFETY: this process has one thread; the fork only sets limits,
        // rearranges its descriptors, extracts and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop((jobs_write, answers_read, talk_read));
            let code = fork_main(request, jobs_read, answers_write, talk_write);
            // SAFETY: ends the fork without running the zygote's exit handlers.
            unsafe { libc::_exit(code) };
        }
        Ok(Self {
            pid,
            jobs: std::fs::File::from(jobs_write),
            answers: answers_read,
            talk: talk_read,
            served: 0,
            memory_bytes: request.memory_bytes,
            open_files: request.open_files,
        })
    }

    /// Whether it may read the next document: it has not read its share,
    /// runs under the same limits, and holds less than half its memory
    /// limit (what a document left allocated is not carried for long).
    fn fit_for(&self, request: &Request) -> bool {
        let mut status = 0;
        // SAFETY: asks after our own child without waiting.
        let alive = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == 0;
        alive
            && self.served < request.docs_per_process.max(1)
            && self.memory_bytes == request.memory_bytes
            && self.open_files == request.open_files
            && data_bytes(self.pid).is_some_and(|bytes| bytes < self.memory_bytes / 2)
    }

    /// Ends it between documents: its jobs pipe closes, it exits (if it
    /// died idle, it was reaped when found unfit and this wait returns at once).
    fn retire(self) {
        drop(self.jobs);
        let mut status = 0;
        // SAFETY: waits for our own child, which is leaving.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }
}

/// Bytes of heap and anonymous mappings `pid` holds (`/proc/PID/statm`'s data).
fn data_bytes(pid: i32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(5)?.parse().ok()?;
    // SAFETY: a plain query.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Hands `bytes` to a fork (the current one, or a fresh one), relays its
/// answer or how it ended.
fn serve_one(
    request: &Request,
    bytes: Vec<u8>,
    slot: &mut Option<Fork>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if let Some(fork) = slot.take() {
        if fork.fit_for(request) {
            *slot = Some(fork);
        } else {
            fork.retire();
        }
    }
    let fork = match slot {
        Some(fork) => fork,
        None => slot.insert(Fork::start(request)?),
    };
    writeln!(out, "{{\"pid\":{}}}", fork.pid)?;
    out.flush()?;
    let job = Job {
        mime: request.mime.clone(),
        max_inflated: request.max_inflated,
        cpu_secs: request.cpu_secs,
        input_bytes: bytes.len(),
    };
    let mut line = serde_json::to_vec(&job)?;
    line.push(b'\n');
    // A fork that died before reading it all shows as its end, below.
    let _ = fork
        .jobs
        .write_all(&line)
        .and_then(|()| fork.jobs.write_all(&bytes));
    drop(bytes);
    let relayed = relay(fork, request.max_output);
    let report = match relayed.ended {
        false => {
            fork.served += 1;
            Report {
                code: Some(0),
                signal: None,
                stdout_bytes: relayed.stdout.len(),
                stderr_bytes: 0,
                too_long: false,
            }
        }
        true => {
            let fork = slot.take().expect("the fork relayed");
            let mut status = 0;
            // SAFETY: waits for our own child, which has ended or been killed.
            unsafe { libc::waitpid(fork.pid, &mut status, 0) };
            Report {
                code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
                signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
                stdout_bytes: relayed.stdout.len(),
                stderr_bytes: relayed.stderr.len(),
                too_long: relayed.too_long,
            }
        }
    };
    serde_json::to_writer(&mut *out, &report)?;
    out.write_all(b"\n")?;
    out.write_all(&relayed.stdout)?;
    if report.code != Some(0) || report.signal.is_some() {
        out.write_all(&relayed.stderr)?;
    }
    out.flush()?;
    // Its share read, it leaves now rather than idle until the next upload.
    if let Some(fork) = slot.take_if(|fork| !fork.fit_for(request)) {
        fork.retire();
    }
    Ok(())
}

/// The fork: limits first, then anything printed onto the talk pipe (so
/// that no library's print can garble an answer), then one document after
/// another until the zygote closes the jobs pipe.
fn fork_main(request: &Request, jobs: OwnedFd, answers: OwnedFd, talk: OwnedFd) -> i32 {
    let limited = set_limit(
        libc::RLIMIT_DATA,
        request.memory_bytes,
        request.memory_bytes,
    )
    .and_then(|()| set_limit(libc::RLIMIT_NOFILE, request.open_files, request.open_files))
    .and_then(|()| set_limit(libc::RLIMIT_CORE, 0, 0));
    // SAFETY: plain descriptor calls on descriptors we own.
    unsafe {
        libc::dup2(talk.as_raw_fd(), 1);
        libc::dup2(talk.as_raw_fd(), 2);
        // No reading the zygote's requests.
        libc::close(0);
    }
    drop(talk);
    if limited.is_err() {
        eprintln!("cannot set the resource limits");
        return 4;
    }
    let mut jobs = std::io::BufReader::new(std::fs::File::from(jobs));
    let mut answers = std::fs::File::from(answers);
    loop {
        let mut line = Vec::new();
        match (&mut jobs).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) => return 0,
            Ok(_) if line.last() == Some(&b'\n') => {}
            _ => return 2,
        }
        let Ok(job) = serde_json::from_slice::<Job>(&line) else {
            return 2;
        };
        let Some(format) = Format::from_mime(&job.mime) else {
            return 2;
        };
        let mut bytes = Vec::new();
        if let Err(e) = bytes.try_reserve_exact(job.input_bytes) {
            // Worded as Rust's own allocation failure, which the server recognises.
            eprintln!(
                "memory allocation of the upload ({} bytes) failed: {e}",
                job.input_bytes
            );
            return 2;
        }
        if (&mut jobs)
            .take(job.input_bytes as u64)
            .read_to_end(&mut bytes)
            .is_err()
            || bytes.len() != job.input_bytes
        {
            return 2;
        }
        // RLIMIT_CPU counts the process's whole life: this document gets
        // `cpu_secs` more than the documents before it used.
        if set_limit(
            libc::RLIMIT_CPU,
            cpu_used_secs().saturating_add(job.cpu_secs),
            libc::RLIM_INFINITY,
        )
        .is_err()
        {
            eprintln!("cannot set the CPU limit");
            return 4;
        }
        let code = answer_to(&mut answers, format, bytes, job.max_inflated);
        if code != 0 {
            return code;
        }
        // What the document's parse freed has gone back to the system
        // already (MALLOC_CONF), so the limit measures the next document.
    }
}

/// CPU seconds this process has used, rounded up.
fn cpu_used_secs() -> u64 {
    // SAFETY: fills a struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec;
    u64::try_from(secs).unwrap_or(0) + 1
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just opened for us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
