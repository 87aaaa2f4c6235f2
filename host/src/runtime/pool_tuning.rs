//! The pooling allocator's reset settings: how much of each slot stays
//! resident between instances, whether tables fill lazily, whether the
//! kernel is asked which pages a guest wrote. Engine-wide in wasmtime, and a
//! trade between page faults and copying that depends on the guest, so a
//! benchmark can vary them (`WASMROUTES_POOL_TUNING`) without a rebuild;
//! the defaults are what `bench/pool-sweep.sh` measured best.

use crate::limits::{format_size, parse_size};

/// The environment variable a benchmark sets to vary the settings, as
/// `key=value` pairs separated by commas, e.g.
/// `memory_keep_resident=128KiB,table_lazy_init=false`.
pub const ENV: &str = "WASMROUTES_POOL_TUNING";

/// How a pool slot is reset between instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolTuning {
    /// Bytes at the start of each linear memory reset in place (zeroed, or
    /// copied back from the memory image); the rest is decommitted.
    pub memory_keep_resident: usize,
    /// The same for each table.
    pub table_keep_resident: usize,
    /// The same for each fiber stack.
    pub stack_keep_resident: usize,
    /// Ask the kernel (PAGEMAP_SCAN) which kept pages were written, and
    /// reset only those.
    pub pagemap_scan: bool,
    /// Fill a table's function references on first use rather than at
    /// instantiation.
    pub table_lazy_init: bool,
    /// Decommits queued before they are flushed together.
    pub decommit_batch_size: usize,
    /// Initial memory up to this size always gets a copy-on-write image,
    /// however sparse its data.
    pub dense_image_size: u64,
}

impl Default for PoolTuning {
    /// A Rust guest's 128 KiB shadow stack, its data and a small heap stay
    /// resident; without PAGEMAP_SCAN, which on wasmtime 50.0.1 reports most
    /// of the window written (bench/README.md, "Pool slots").
    fn default() -> Self {
        PoolTuning {
            memory_keep_resident: 256 << 10,
            table_keep_resident: 64 << 10,
            stack_keep_resident: 64 << 10,
            pagemap_scan: false,
            table_lazy_init: true,
            decommit_batch_size: 1,
            dense_image_size: 16 << 20,
        }
    }
}

/// A `WASMROUTES_POOL_TUNING` the host cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{ENV}: {0}")]
pub struct PoolTuningError(String);

impl PoolTuning {
    /// The defaults, changed by what `spec` (the variable's value) sets.
    pub fn parse(spec: &str) -> Result<PoolTuning, PoolTuningError> {
        let mut tuning = PoolTuning::default();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| PoolTuningError(format!("`{pair}` is not key=value")))?;
            let bytes = || parse_size(value).map_err(|why| PoolTuningError(format!("{key}: {why}")));
            let size =
                || usize::try_from(bytes()?).map_err(|_| PoolTuningError(format!("{key}: `{value}` is too large")));
            let flag = || match value {
                "true" | "on" => Ok(true),
                "false" | "off" => Ok(false),
                _ => Err(PoolTuningError(format!("{key}: `{value}` is not true or false"))),
            };
            match key {
                "memory_keep_resident" => tuning.memory_keep_resident = size()?,
                "table_keep_resident" => tuning.table_keep_resident = size()?,
                "stack_keep_resident" => tuning.stack_keep_resident = size()?,
                "pagemap_scan" => tuning.pagemap_scan = flag()?,
                "table_lazy_init" => tuning.table_lazy_init = flag()?,
                "dense_image_size" => tuning.dense_image_size = bytes()?,
                "decommit_batch_size" => {
                    tuning.decommit_batch_size = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| PoolTuningError(format!("{key}: `{value}` is not a count ≥ 1")))?
                }
                _ => {
                    return Err(PoolTuningError(format!(
                        "unknown setting `{key}`; known: memory_keep_resident, table_keep_resident, \
                         stack_keep_resident, pagemap_scan, table_lazy_init, decommit_batch_size, dense_image_size"
                    )));
                }
            }
        }
        Ok(tuning)
    }

    /// The defaults, or what `WASMROUTES_POOL_TUNING` sets.
    pub fn from_env() -> Result<PoolTuning, PoolTuningError> {
        match std::env::var(ENV) {
            Ok(spec) => PoolTuning::parse(&spec),
            Err(std::env::VarError::NotPresent) => Ok(PoolTuning::default()),
            Err(std::env::VarError::NotUnicode(_)) => Err(PoolTuningError("not valid UTF-8".into())),
        }
    }

    /// The settings in the variable's own syntax, for the start-up log.
    pub fn describe(&self) -> String {
        format!(
            "memory_keep_resident={},table_keep_resident={},stack_keep_resident={},pagemap_scan={},\
             table_lazy_init={},decommit_batch_size={},dense_image_size={}",
            format_size(self.memory_keep_resident as u64),
            format_size(self.table_keep_resident as u64),
            format_size(self.stack_keep_resident as u64),
            self.pagemap_scan,
            self.table_lazy_init,
            self.decommit_batch_size,
            format_size(self.dense_image_size)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spec_is_the_defaults() {
        assert_eq!(PoolTuning::parse(""), Ok(PoolTuning::default()));
        assert_eq!(PoolTuning::parse(" , "), Ok(PoolTuning::default()));
    }

    #[test]
    fn sets_only_what_it_names() {
        let tuning = PoolTuning::parse("memory_keep_resident=8MiB, table_lazy_init=false,decommit_batch_size=16")
            .expect("valid spec");
        assert_eq!(
            tuning,
            PoolTuning {
                memory_keep_resident: 8 << 20,
                table_lazy_init: false,
                decommit_batch_size: 16,
                ..PoolTuning::default()
            }
        );
    }

    #[test]
    fn describe_reads_back() {
        let tuning =
            PoolTuning::parse("memory_keep_resident=0,pagemap_scan=on,stack_keep_resident=1MiB,dense_image_size=64MiB")
                .expect("valid spec");
        assert_eq!(PoolTuning::parse(&tuning.describe()), Ok(tuning));
    }

    #[test]
    fn mistakes_name_the_variable_and_the_setting() {
        let err = |spec| PoolTuning::parse(spec).expect_err(spec).to_string();
        assert_eq!(err("memory"), "WASMROUTES_POOL_TUNING: `memory` is not key=value");
        assert!(err("memory_keep_resident=lots").starts_with("WASMROUTES_POOL_TUNING: memory_keep_resident: "));
        assert!(err("table_lazy_init=maybe").contains("`maybe` is not true or false"));
        assert!(err("decommit_batch_size=0").contains("not a count"));
        assert!(err("keep=1").contains("unknown setting `keep`"));
    }
}
