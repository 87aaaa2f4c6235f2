//! `wasmroutes build`: run every route's build step.

/// Build every route's component: run its `build` command, or build its
/// route.js / route.ts with the JavaScript toolchain.
#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
}

/// Runs each distinct build step from the manifest's directory (a route
/// tree's own directory for `--dir`).
pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let source = args.manifest.source();
    let config = source.read()?;
    let built = wasmroutes::build_routes::build_all(&config)?;
    eprintln!("built {built} route(s) from {source}");
    Ok(())
}
