//! `wasmroutes check`: load exactly what `serve` would, serve nothing.

use std::path::PathBuf;

/// Validate ROUTES_TOML and every component (exports, handler types,
/// conflicts, env references) without serving; exit 0 if all is well.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The deployment manifest.
    #[arg(default_value = "routes.toml")]
    routes_toml: PathBuf,
}

/// Loads the deployment and prints the route table.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // No compile cache: a check must not depend on (or fill) a cache.
        let (_, table) = super::load::load(&args.routes_toml, None).await?;
        print!("{}", table.describe());
        println!("{}: {} route(s) OK", args.routes_toml.display(), table.len());
        Ok(())
    })
}
