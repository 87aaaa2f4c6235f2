//! Where the host's `tracing` events go: stderr, as readable lines or as
//! JSON objects (`--log-format`), filtered by `RUST_LOG` (default `info`).

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

/// Whether [`init`] chose JSON: [`announce`] then writes events too.
static JSON: AtomicBool = AtomicBool::new(false);

/// How log events are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, coloured on a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, fields at the top level (for log shippers).
    Json,
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}

/// Whether log lines are JSON objects.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// A line `serve` tells the person who started it ("listening on …"):
/// printed as is, or with `--log-format json` an `info` event like every
/// other line, so a log shipper never meets a line that is not JSON.
pub fn announce(line: &str) {
    if is_json() {
        tracing::info!(target: "wasmroutes::serve", "{line}");
    } else {
        eprintln!("wasmroutes: {line}");
    }
}
