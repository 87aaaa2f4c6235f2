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
    Cache(cli::cache::CacheArgs),
    Check(cli::check::CheckArgs),
    Db(cli::db::DbArgs),
    Kv(cli::kv::KvArgs),
    New(cli::new::NewArgs),
    Openapi(cli::openapi::OpenapiArgs),
    Precompile(cli::precompile::PrecompileArgs),
    Routes(cli::routes::RoutesArgs),
    Serve(cli::serve::ServeArgs),
}

/// Runs the command. A failure is printed as one `error: …` line with its
/// causes, not as `anyhow`'s debug form, which adds a stack backtrace
/// whenever `RUST_BACKTRACE` is set: these are errors a person caused (a
/// typo in routes.toml, a missing file, a port in use), not bugs. Exit 1.
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli::logging::init(cli.log_format);
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let report = cli::error_report::render(&error);
            match cli.log_format {
                // A log shipper reads every line as JSON, the last one too.
                cli::logging::LogFormat::Json => tracing::error!("{report}"),
                cli::logging::LogFormat::Pretty => eprintln!("error: {report}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => cli::build::run(args),
        Command::Cache(args) => cli::cache::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Db(args) => cli::db::run(args),
        Command::Kv(args) => cli::kv::run(args),
        Command::New(args) => cli::new::run(args),
        Command::Openapi(args) => cli::openapi::run(args),
        Command::Precompile(args) => cli::precompile::run(args),
        Command::Routes(args) => cli::routes::run(args),
        Command::Serve(args) => cli::serve::run(args),
    }
}
