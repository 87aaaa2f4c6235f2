//! `wasmroutes cache`: what the compile cache holds, and emptying it.

use wasmroutes::limits::{approximate_size, format_size};

/// Show or empty the compile cache (compiled components; the JavaScript toolchain beside them
/// stays).
///
/// `serve`, `routes` and `precompile` keep the cache within --cache-max-size by themselves,
/// removing the least recently used components after each load.
#[derive(clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print where the cache is, how many compiled components it holds, their size and the cap.
    Status(super::load::CacheLocation),
    /// Remove every compiled component; hosts that are running keep theirs, and compile at
    /// their next start.
    Clear(super::load::CacheLocation),
}

/// Runs the action on the cache `--cache-dir` (or the default) names.
pub fn run(args: CacheArgs) -> anyhow::Result<()> {
    let (Action::Status(location) | Action::Clear(location)) = &args.action;
    let cache = location.clone().required()?;
    match args.action {
        Action::Status(_) => {
            let usage = cache.usage();
            println!(
                "{}: {} compiled component(s), {} of {}",
                cache.dir().display(),
                usage.entries,
                approximate_size(usage.bytes),
                format_size(cache.max_size())
            );
        }
        Action::Clear(_) => {
            let removed = cache.clear();
            println!(
                "{}: removed {} compiled component(s), {}",
                cache.dir().display(),
                removed.entries,
                approximate_size(removed.bytes)
            );
        }
    }
    Ok(())
}
