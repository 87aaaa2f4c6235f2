//! The `wasmroutes` command line. Each subcommand lives in its own module
//! under `cli/`; this file only parses and dispatches.

mod cli;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Serve HTTP API routes as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(cli::build::BuildArgs),
    Check(cli::check::CheckArgs),
    New(cli::new::NewArgs),
    Routes(cli::routes::RoutesArgs),
    Serve(cli::serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Build(args) => cli::build::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::New(args) => cli::new::run(args),
        Command::Routes(args) => cli::routes::run(args),
        Command::Serve(args) => cli::serve::run(args),
    }
}
