//! Fills an embedded key-value store with tasks the way the `tasks` sample
//! stores them, for the RSS measurement in `bench/run.sh`:
//!
//! ```sh
//! cargo run --release -p wasmroutes --example kv_fill -- DATA_DIR COUNT
//! ```
//!
//! Writes `task:{id:020}` → `{"id":…,"title":"task …","done":false}` for ids
//! 1..=COUNT and `next-task-id` = COUNT into store `default` under
//! DATA_DIR, in batches of 1,000 (one transaction each).

use std::path::PathBuf;

use anyhow::Context;
use wasmroutes::config::StoreConfig;
use wasmroutes::kv::Stores;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: kv_fill DATA_DIR COUNT";
    let data_dir = PathBuf::from(args.next().context(usage)?);
    let count: u64 = args.next().context(usage)?.parse().context(usage)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Stores::open_one(&StoreConfig::implicit_default(), &data_dir)?;
        let mut id = 1;
        while id <= count {
            let end = (id + 999).min(count);
            let batch = (id..=end)
                .map(|i| {
                    let task = serde_json::json!({ "id": i, "title": format!("task {i}"), "done": false });
                    (format!("task:{i:020}"), task.to_string().into_bytes())
                })
                .collect();
            store.set_many(batch).await?;
            id = end + 1;
        }
        store.set("next-task-id".into(), count.to_string().into_bytes()).await?;
        anyhow::Ok(())
    })?;
    println!("{count} tasks in {}", Stores::embedded_path(&data_dir, StoreConfig::DEFAULT).display());
    Ok(())
}
