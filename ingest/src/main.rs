//! `ragway-ingest`: the command-line front of the [`ragway_ingest`] library.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use ragway_ingest::{run, Options};

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A bare spawn on purpose: the CLI has no tracker, and this watches for ^C until it exits.
    #[allow(clippy::disallowed_methods)]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nstopping: uploads in flight finish, nothing new starts (run again to finish)"
            );
            flag.store(true, Ordering::SeqCst);
        }
    });
    match run(&options, stop).await {
        Ok(report) => {
            println!("{}", report.summary());
            if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("ragway-ingest: {err:#}");
            ExitCode::from(2)
        }
    }
}
