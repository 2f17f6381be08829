//! The threads inference runs on: a fixed few (`RAGWAY_LOCAL_MODEL_RUNS`),
//! each kept for the library's life, taking batches in the order they were
//! asked for. Not tokio's blocking pool: each thread that allocates gets a
//! malloc arena of its own that keeps what it freed, and a batch landing on
//! a different pool thread each time grew the server to 586 MB while it
//! ingested (BENCHMARKS.md, "Built-in models"); the same few threads reuse
//! the same memory.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of inference threads and their queue.
pub struct Runners {
    queue: mpsc::Sender<Job>,
}

impl Runners {
    /// Start `threads` threads (at least one).
    pub fn new(threads: usize) -> Self {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            let started = std::thread::Builder::new()
                .name(format!("ragway-model-{i}"))
                .spawn(move || loop {
                    // The lock is held while waiting, not while working.
                    let job = jobs.lock().map(|jobs| jobs.recv());
                    match job {
                        Ok(Ok(job)) => job(),
                        // The library is gone (or a thread panicked holding the lock).
                        _ => return,
                    }
                });
            if let Err(err) = started {
                tracing::error!(error = %err, "an inference thread did not start");
            }
        }
        Self { queue }
    }

    /// Run `work` on one of the threads; `None` when it panicked (or no
    /// thread is left to run it).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        });
        self.queue.send(job).ok()?;
        answered.await.ok()?.ok()
    }
}
