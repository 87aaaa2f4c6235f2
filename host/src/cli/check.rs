//! `wasmroutes check`: load exactly what `serve` would, serve nothing.

/// Validate ROUTES_TOML (or a --dir route tree) and every component (exports,
/// handler types, conflicts, env references) without serving; exit 0 if all
/// is well.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
}

/// Loads the deployment and prints the route table.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    // No compile cache: a check must not depend on (or fill) a cache.
    let source = args.manifest.source();
    let (_, table) = super::load::load(&source, None)?;
    print!("{}", table.summary());
    println!("{source}: {} route(s) OK", table.len());
    Ok(())
}
