//! Extraction children forked from a small "zygote" process instead of
//! started from the executable each time.
//!
//! Starting `ragway` costs ~8 ms on this project's 2-core VM however little
//! it does: the executable is large, and the loader applies ~435,000
//! relocations, each page it touches a copy-on-write fault. A zygote
//! (`ragway extract-zygote`, started once per concurrency slot with an empty
//! environment) pays that once; then for each upload it reads the request
//! and the bytes, forks (cheap: one thread, little memory), and the fork
//! sets its resource limits before it parses a byte, runs the extraction and
//! exits. The zygote relays the fork's answer, its stderr and how it ended.
//! A zygote that dies or garbles is replaced; the fork, not the zygote, is
//! what a hostile file can kill.
//!
//! Frames, zygote stdin: a JSON [`Request`] line, then `input_bytes` bytes;
//! later, one byte asks it to kill the running fork (the time limit).
//! Zygote stdout: `{"pid":N}` when the fork starts, then a JSON [`Report`]
//! line followed by the fork's stdout and stderr bytes.

use std::io::{BufRead, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::child::{answer, install_panic_hook, set_limit, Limits};
use super::Format;

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
}

impl Zygote {
    /// Starts `program extract-zygote` with an empty environment.
    pub fn start(program: &std::path::Path) -> std::io::Result<Self> {
        let mut child = tokio::process::Command::new(program)
            .arg(SUBCOMMAND)
            // Nothing of the server's environment (upstream keys, S3 credentials) reaches a parser.
            .env_clear()
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
        })
    }

    /// Sends one extraction; answers once its fork has started.
    pub async fn send(
        &mut self,
        format: Format,
        bytes: &[u8],
        limits: &Limits,
        max_output: usize,
    ) -> std::io::Result<()> {
        let request = Request {
            mime: format.mime().into(),
            max_inflated: limits.max_inflated,
            memory_bytes: limits.memory_bytes,
            cpu_secs: limits.cpu_secs,
            open_files: limits.open_files,
            max_output,
            input_bytes: bytes.len(),
        };
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.write_all(bytes).await?;
        self.stdin.flush().await?;
        #[derive(Deserialize)]
        struct Started {
            #[allow(dead_code)]
            pid: i32,
        }
        let _: Started = serde_json::from_slice(&self.line().await?).map_err(bad)?;
        Ok(())
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
    loop {
        let mut line = Vec::new();
        match (&mut input).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) => return 0,
            Ok(_) if line.last() == Some(&b'\n') => {}
            _ => return 2,
        }
        let Ok(request) = serde_json::from_slice::<Request>(&line) else {
            return 2;
        };
        let mut bytes = Vec::new();
        if (&mut input)
            .take(request.input_bytes as u64)
            .read_to_end(&mut bytes)
            .is_err()
            || bytes.len() != request.input_bytes
        {
            return 2;
        }
        let Some(format) = Format::from_mime(&request.mime) else {
            return 2;
        };
        if serve_one(&request, format, bytes, &mut out).is_err() {
            return 3;
        }
    }
}

/// Forks, lets the fork extract `bytes` under the request's limits, relays
/// what it says and how it ends.
fn serve_one(
    request: &Request,
    format: Format,
    bytes: Vec<u8>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    out.flush()?;
    // SAFETY: this process has one thread; the fork only sets limits,
    // rearranges its descriptors, extracts and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop((out_read, err_read));
        let code = fork_main(request, format, bytes, out_write, err_write);
        // SAFETY: ends the fork without running the zygote's exit handlers.
        unsafe { libc::_exit(code) };
    }
    drop((out_write, err_write, bytes));
    writeln!(out, "{{\"pid\":{pid}}}")?;
    out.flush()?;
    let (stdout, stderr, too_long) = relay(pid, out_read, err_read, request.max_output);
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let report = Report {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout_bytes: stdout.len(),
        stderr_bytes: stderr.len(),
        too_long,
    };
    serde_json::to_writer(&mut *out, &report)?;
    out.write_all(b"\n")?;
    out.write_all(&stdout)?;
    out.write_all(&stderr)?;
    out.flush()
}

/// The fork: limits first, then its stdout and stderr onto the pipes, then
/// the extraction.
fn fork_main(request: &Request, format: Format, bytes: Vec<u8>, out: OwnedFd, err: OwnedFd) -> i32 {
    let limited = set_limit(
        libc::RLIMIT_DATA,
        request.memory_bytes,
        request.memory_bytes,
    )
    .and_then(|()| set_limit(libc::RLIMIT_CPU, request.cpu_secs, request.cpu_secs + 1))
    .and_then(|()| set_limit(libc::RLIMIT_NOFILE, request.open_files, request.open_files))
    .and_then(|()| set_limit(libc::RLIMIT_CORE, 0, 0));
    // SAFETY: plain descriptor calls on descriptors we own.
    unsafe {
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(err.as_raw_fd(), 2);
        // No reading the zygote's requests.
        libc::close(0);
    }
    drop((out, err));
    if limited.is_err() {
        eprintln!("cannot set the resource limits");
        return 4;
    }
    answer(format, bytes, request.max_inflated)
}

/// Reads the fork's stdout (up to `max` bytes) and stderr (up to
/// [`MAX_STDERR`]) together, so neither pipe fills and stalls it; a byte on
/// our stdin (the server's time limit) or its end kills the fork.
fn relay(pid: i32, out: OwnedFd, err: OwnedFd, max: usize) -> (Vec<u8>, Vec<u8>, bool) {
    let (mut stdout, mut stderr, mut too_long) = (Vec::new(), Vec::new(), false);
    let mut open = [Some(out), Some(err)];
    let mut buffer = vec![0u8; 64 * 1024];
    let mut watching_stdin = true;
    while open.iter().any(Option::is_some) {
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|fd| libc::pollfd {
                fd: fd.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        fds.push(libc::pollfd {
            fd: if watching_stdin { 0 } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: polls descriptors we hold open.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if fds[2].revents != 0 {
            // A kill request, or the server gone: either way the fork ends.
            let mut byte = [0u8; 1];
            // SAFETY: reads one byte from our stdin.
            let read = unsafe { libc::read(0, byte.as_mut_ptr().cast(), 1) };
            // SAFETY: signals our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = read;
            watching_stdin = false;
        }
        for (i, sink) in [&mut stdout, &mut stderr].into_iter().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            let fd = open[i].as_ref().expect("polled").as_raw_fd();
            // SAFETY: reads into our buffer from a pipe we own.
            let read = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if read <= 0 {
                open[i] = None;
                continue;
            }
            let cap = if i == 0 { max } else { MAX_STDERR };
            let room = cap.saturating_sub(sink.len());
            sink.extend_from_slice(&buffer[..(read as usize).min(room)]);
            if read as usize > room && i == 0 {
                too_long = true;
                // SAFETY: signals our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                open = [None, None];
            }
        }
    }
    (stdout, stderr, too_long)
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
