//! The `wasmroutes` command line. Each subcommand lives in its own module
//! under `cli/`; this file only parses and dispatches.

mod cli;

use clap::{Parser, Subcommand};

/// Serve HTTP API routes as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// How log lines are written to stderr: `pretty` (readable) or `json` (one object per line).
    #[arg(long, global = true, env = "WASMROUTES_LOG_FORMAT", value_enum, default_value_t)]
    log_format: cli::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(cli::build::BuildArgs),
    Check(cli::check::CheckArgs),
    Kv(cli::kv::KvArgs),
    New(cli::new::NewArgs),
    Precompile(cli::precompile::PrecompileArgs),
    Routes(cli::routes::RoutesArgs),
    Serve(cli::serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli::logging::init(cli.log_format);
    match cli.command {
        Command::Build(args) => cli::build::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Kv(args) => cli::kv::run(args),
        Command::New(args) => cli::new::run(args),
        Command::Precompile(args) => cli::precompile::run(args),
        Command::Routes(args) => cli::routes::run(args),
        Command::Serve(args) => cli::serve::run(args),
    }
}
