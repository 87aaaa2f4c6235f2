//! `wasmroutes openapi`: print the OpenAPI 3.1 document of a deployment.

/// Print the deployment's OpenAPI 3.1 document (JSON) on stdout.
///
/// Every route in OpenAPI path syntax (`/api/posts/{id}`), the methods its
/// component exports (read from the component, so this loads the deployment
/// like `check`), the automatic HEAD and OPTIONS, path parameters, and the
/// answers the host makes itself (400, 404, 405, 413, 500, 503, 504) in its
/// JSON error envelope. `serve --admin-addr` serves the same document at
/// /openapi.json.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  wasmroutes openapi sample-routes/routes.toml > openapi.json")]
pub struct OpenapiArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    /// The document's `info.title`.
    #[arg(long, default_value = DEFAULT_TITLE)]
    title: String,
    #[command(flatten)]
    cache: super::load::CacheArgs,
}

/// `info.title` unless `--title` says otherwise.
pub const DEFAULT_TITLE: &str = "API served by wasmroutes";

/// Loads the deployment and prints its document.
pub fn run(args: OpenapiArgs) -> anyhow::Result<()> {
    let cache = args.cache.cache();
    let (_, table) = super::load::load(&args.manifest.source(), cache)?;
    let document = wasmroutes::openapi::document(&table, &args.title);
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
