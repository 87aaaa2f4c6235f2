//! `wasmroutes kv`: look at and fix the data of a key-value store, through
//! the same backends and limits the routes use.
//!
//! An embedded store's file is locked by the server that has it open; this
//! command then stops with a message saying so instead of touching the
//! file (redb refuses a second writer, so nothing can be corrupted).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wasmroutes::config::StoreConfig;
use wasmroutes::kv::{KvError, Store, Stores, StoresError};

/// How long to wait for a Redis store to connect before giving up.
const CONNECT_WAIT: Duration = Duration::from_secs(3);

/// Read or change a key-value store of ROUTES_TOML (or of a --dir tree).
#[derive(clap::Args)]
pub struct KvArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    /// The store, as named in `[key_value_store.NAME]`.
    #[arg(long, default_value = StoreConfig::DEFAULT)]
    store: String,
    /// Where embedded stores keep their files [default: .wasmroutes/ beside ROUTES_TOML].
    #[arg(long, env = "WASMROUTES_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    op: KvOp,
}

/// What to do.
#[derive(clap::Subcommand)]
enum KvOp {
    /// Print the value of KEY (exit 1 if it is not set).
    Get {
        /// The key.
        key: String,
        /// Write the value's bytes exactly, without a trailing newline.
        #[arg(long)]
        raw: bool,
    },
    /// Set KEY to VALUE (or to standard input when VALUE is not given).
    Set {
        /// The key.
        key: String,
        /// The value; read from standard input if left out.
        value: Option<String>,
    },
    /// Remove KEY.
    Delete {
        /// The key.
        key: String,
    },
    /// Print every key (with --prefix, those starting with it), one per line.
    List {
        /// Only keys starting with this.
        #[arg(long)]
        prefix: Option<String>,
    },
}

/// Opens the store and runs the operation.
pub fn run(args: KvArgs) -> anyhow::Result<()> {
    let source = args.manifest.source();
    let config = source.read()?;
    let Some(store_config) = config.stores.get(&args.store) else {
        let names: Vec<&str> = config.stores.keys().map(String::as_str).collect();
        bail!("{source} configures no key-value store `{}` (it has: {})", args.store, names.join(", "));
    };
    let data_dir = args.data_dir.unwrap_or_else(|| config.default_data_dir());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = match Stores::open_one(store_config, &data_dir) {
            Ok(store) => store,
            Err(StoresError::Embedded { source, .. }) => {
                return Err(anyhow::Error::new(source)
                    .context(format!("cannot open key-value store `{}`", args.store))
                    .context(
                        "stop the server that has it open (or use a copy of the data dir with --data-dir) and run \
                         this again",
                    ));
            }
            Err(e) => return Err(e.into()),
        };
        wait_until_answering(&store).await?;
        run_op(&store, args.op).await
    })
}

/// A Redis store connects in the background; give it a moment.
async fn wait_until_answering(store: &Store) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        match store.ping().await {
            Ok(()) => return Ok(()),
            Err(KvError::Unavailable(_)) if started.elapsed() < CONNECT_WAIT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("key-value store `{}` does not answer", store.name())),
        }
    }
}

async fn run_op(store: &Store, op: KvOp) -> anyhow::Result<()> {
    let name = store.name().to_owned();
    let mut stdout = std::io::stdout().lock();
    match op {
        KvOp::Get { key, raw } => {
            let Some(value) = store.get(&key).await.with_context(|| format!("get `{key}` from `{name}`"))? else {
                bail!("key `{key}` is not set in store `{name}`");
            };
            stdout.write_all(&value)?;
            if !raw {
                stdout.write_all(b"\n")?;
            }
        }
        KvOp::Set { key, value } => {
            let value = match value {
                Some(v) => v.into_bytes(),
                None => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf).context("reading the value from standard input")?;
                    buf
                }
            };
            store.set(key.clone(), value).await.with_context(|| format!("set `{key}` in `{name}`"))?;
        }
        KvOp::Delete { key } => {
            store.delete(key.clone()).await.with_context(|| format!("delete `{key}` from `{name}`"))?;
        }
        KvOp::List { prefix } => {
            let mut cursor: Option<String> = None;
            loop {
                let page = store
                    .list_keys(prefix.as_deref(), cursor.as_deref())
                    .await
                    .with_context(|| format!("list the keys of `{name}`"))?;
                for key in page.keys {
                    writeln!(stdout, "{key}")?;
                }
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    stdout.flush()?;
    Ok(())
}
