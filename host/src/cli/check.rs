//! `wasmroutes check`: load exactly what `serve` would, serve nothing.

use std::path::PathBuf;

use wasmroutes::manifest_source::ManifestSource;

/// Validate ROUTES_TOML (or a --dir route tree) and every component (exports,
/// handler types, conflicts, env references) without serving; exit 0 if all
/// is well.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The deployment manifest.
    #[arg(default_value = "routes.toml")]
    routes_toml: PathBuf,
    /// Take the routes from a directory tree instead of ROUTES_TOML: `api/posts/[id]/route.wasm`
    /// answers `/api/posts/[id]` (file-based routing, like Next.js `app/api`).
    #[arg(long, value_name = "DIR", conflicts_with = "routes_toml")]
    dir: Option<PathBuf>,
}

/// Loads the deployment and prints the route table.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // No compile cache: a check must not depend on (or fill) a cache.
        let source = ManifestSource::new(args.routes_toml, args.dir);
        let (_, table) = super::load::load(&source, None).await?;
        print!("{}", table.describe());
        println!("{source}: {} route(s) OK", table.len());
        Ok(())
    })
}
