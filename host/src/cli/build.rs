//! `wasmroutes build`: run every route's `build` command.

use std::path::PathBuf;

use wasmroutes::config::RoutesConfig;

/// Run the `build` command of every route in ROUTES_TOML.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The deployment manifest.
    #[arg(default_value = "routes.toml")]
    routes_toml: PathBuf,
}

/// Runs each distinct `build` command from the manifest's directory.
pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let config = RoutesConfig::load(&args.routes_toml)?;
    let built = wasmroutes::build_routes::build_all(&config)?;
    eprintln!("built {built} route command(s) from {}", args.routes_toml.display());
    Ok(())
}
