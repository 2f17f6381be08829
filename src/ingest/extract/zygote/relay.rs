//! The zygote's side of one document: the fork's answer and talk read
//! together, within their bounds, until the answer is whole or the fork
//! ends; a kill request from the server ends it.

use std::os::fd::{AsRawFd, OwnedFd};

use super::{AnswerHeader, Fork, MAX_STDERR};

/// What a fork said about one document.
pub(super) struct Relayed {
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    /// It ended (or was killed) rather than answered.
    pub(super) ended: bool,
    /// It wrote more than it may and was killed for it.
    pub(super) too_long: bool,
}

/// Reads the fork's answer (up to `max` bytes) and its talk (up to
/// [`MAX_STDERR`]) together, so neither pipe fills and stalls it, until the
/// answer is whole or the fork ends; a byte on our stdin (the server's time
/// limit) or its end kills the fork.
pub(super) fn relay(fork: &Fork, max: usize) -> Relayed {
    let mut relayed = Relayed {
        stdout: Vec::new(),
        stderr: Vec::new(),
        ended: false,
        too_long: false,
    };
    let mut open = [true, true];
    let mut buffer = vec![0u8; 64 * 1024];
    let mut watching_stdin = true;
    let mut answer_len: Option<usize> = None;
    let kill = |relayed: &mut Relayed| {
        // SAFETY: signals our own child, not yet reaped.
        unsafe { libc::kill(fork.pid, libc::SIGKILL) };
        relayed.ended = true;
    };
    while open[0] {
        let mut fds = [
            (fork.answers.as_raw_fd(), open[0]),
            (fork.talk.as_raw_fd(), open[1]),
            (0, watching_stdin),
        ]
        .map(|(fd, on)| libc::pollfd {
            fd: if on { fd } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: polls descriptors we hold open.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            kill(&mut relayed);
            break;
        }
        if fds[2].revents != 0 {
            // A kill request, or the server gone: either way the fork ends.
            let mut byte = [0u8; 1];
            // SAFETY: reads one byte from our stdin.
            let _ = unsafe { libc::read(0, byte.as_mut_ptr().cast(), 1) };
            kill(&mut relayed);
            watching_stdin = false;
        }
        if fds[1].revents != 0 {
            // SAFETY: reads into our buffer from a pipe we own.
            let read = unsafe { libc::read(fds[1].fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if read <= 0 {
                open[1] = false;
            } else {
                let room = MAX_STDERR.saturating_sub(relayed.stderr.len());
                relayed
                    .stderr
                    .extend_from_slice(&buffer[..(read as usize).min(room)]);
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: reads into our buffer from a pipe we own.
            let read = unsafe { libc::read(fds[0].fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if read <= 0 {
                // It ended; whatever it said on the talk pipe is read to the end.
                relayed.ended = true;
                drain(&fork.talk, open[1], &mut relayed.stderr, &mut buffer);
                break;
            }
            let read = read as usize;
            if relayed.stdout.len() + read > max {
                relayed.too_long = true;
                kill(&mut relayed);
                break;
            }
            relayed.stdout.extend_from_slice(&buffer[..read]);
            if answer_len.is_none() {
                if let Some(newline) = relayed.stdout.iter().position(|&b| b == b'\n') {
                    let header = serde_json::from_slice::<AnswerHeader>(&relayed.stdout[..newline]);
                    match header {
                        Ok(header) => answer_len = Some(newline + 1 + header.text_bytes),
                        // Not an answer: the server's parse says so once the fork is gone.
                        Err(_) => kill(&mut relayed),
                    }
                }
            }
            match answer_len {
                Some(len) if relayed.stdout.len() == len && !relayed.ended => return relayed,
                Some(len) if relayed.stdout.len() > len => kill(&mut relayed),
                _ => {}
            }
        }
    }
    relayed.ended = true;
    relayed
}

/// Reads what is left on `fd` (the fork has ended, so it ends too).
fn drain(fd: &OwnedFd, open: bool, sink: &mut Vec<u8>, buffer: &mut [u8]) {
    if !open {
        return;
    }
    loop {
        // SAFETY: reads into our buffer from a pipe we own.
        let read = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
        if read <= 0 {
            return;
        }
        let room = MAX_STDERR.saturating_sub(sink.len());
        sink.extend_from_slice(&buffer[..(read as usize).min(room)]);
    }
}
