//! On-disk cache of compiled components, so a restart skips Cranelift.
//!
//! An entry is named after the BLAKE3 hash of the component's bytes and the
//! engine's compatibility hash (wasmtime version, target, settings), so a
//! changed component or engine never finds a stale entry. It is two files:
//! `KEY.cwasm`, wasmtime's artifact as is (so it can be `mmap`ed rather than
//! copied: pages are shared with the page cache and only touched code counts
//! toward RSS), and `KEY.cwasm.sum`, our header with the artifact's BLAKE3
//! hash.
//! Deserializing is `unsafe` — it maps machine code — so an artifact is used
//! only if its sum file is ours and the checksum matches; anything else is
//! ignored, recompiled and overwritten. Files are written under temp names and
//! renamed into place (sum last), so a crash never leaves a torn entry, and the
//! directory is owner-only, so no one else can swap a file after the check.
//!
//! Why BLAKE3 rather than SHA-256: a restart hashes every component and every
//! artifact (~450 MB for 1,000 routes). With SHA-256 (even with the CPU's SHA
//! extensions) that was 42% of start-up CPU; BLAKE3 hashes the same bytes
//! several times faster with SIMD and is just as collision-resistant.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Marks files this host wrote (format 2: BLAKE3 sums; format 1 files,
/// with SHA-256 sums, are treated as foreign and rebuilt).
const MAGIC: &[u8; 8] = b"WRCWASM2";

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
    /// Set after the first failed write. A read-only cache (a container
    /// image's pre-warmed cache on a read-only root filesystem) fails every
    /// write the same way: one warning says it, not one per component.
    write_failed: Arc<AtomicBool>,
}

/// What loading a component cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled (and stored, if the cache is writable).
    Miss,
    /// No cache configured.
    Disabled,
}

impl CompileCache {
    /// A cache in `dir` (created with owner-only permissions on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into(), write_failed: Arc::new(AtomicBool::new(false)) }
    }

    /// Creates the directory if needed and proves a file can be written in
    /// it, for callers whose whole job is to fill the cache
    /// (`wasmroutes precompile`): there a cache that cannot be written is an
    /// error, not the warning `serve` logs.
    pub fn ensure_writable(&self) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let probe = self.dir.join(format!(".tmp-probe-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    }

    /// `$XDG_CACHE_HOME/wasmroutes` or `~/.cache/wasmroutes`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("wasmroutes"))
    }

    /// The compiled component for `bytes` (whose [`content_hash`] the caller
    /// already has): from the cache if a valid entry exists, otherwise
    /// compiled and stored.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &ContentHash,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, hash);
        if let Some(component) = self.read(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.write(&path, &component)
            && !self.write_failed.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "compile cache: cannot write {}: {e}; components missing from the cache are compiled at every start",
                path.display()
            );
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn entry_path(&self, engine: &Engine, hash: &ContentHash) -> PathBuf {
        let content = blake3::Hash::from_bytes(*hash).to_hex();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{content}-{:016x}.cwasm", hasher.finish()))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let sum = std::fs::read(sum_path(path)).ok();
        let artifact_ok = match sum {
            Some(sum) => verified_sum(&sum).is_some_and(|expected| file_hash(path).is_ok_and(|h| h == expected)),
            None if path.exists() => false,
            None => return None,
        };
        if !artifact_ok {
            tracing::warn!("compile cache: ignoring {} (not written by this host or corrupt)", path.display());
            return None;
        }
        // SAFETY: the artifact's checksum matches the sum file this host
        // wrote beside it, in a directory only this user can write, so it is
        // an artifact this host serialized itself; wasmtime additionally
        // checks that it matches this engine's version and configuration.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, path) };
        match component {
            Ok(component) => {
                release_mapped_pages(&component);
                Some(component)
            }
            Err(e) => {
                tracing::warn!("compile cache: ignoring {}: {e}", path.display());
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let artifact = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let tmp =
            |what: &str| self.dir.join(format!(".tmp-{what}-{}-{:?}", std::process::id(), std::thread::current().id()));
        let mut sum = MAGIC.to_vec();
        sum.extend_from_slice(blake3::hash(&artifact).as_bytes());
        // The artifact first, then its sum: a reader never sees a sum for an
        // artifact that is not fully in place.
        for (contents, target) in [(&artifact[..], path.to_owned()), (&sum[..], sum_path(path))] {
            let tmp = tmp(if target == path { "artifact" } else { "sum" });
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(contents)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &target)?;
        }
        Ok(())
    }
}

/// BLAKE3 of a component's bytes.
pub type ContentHash = [u8; 32];

/// A component's identity by content: the first half of its cache key, and
/// how a reload tells a changed component from one it can keep.
pub fn content_hash(bytes: &[u8]) -> ContentHash {
    *blake3::hash(bytes).as_bytes()
}

fn sum_path(artifact: &Path) -> PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(".sum");
    PathBuf::from(name)
}

/// The checksum in a sum file, if the file is ours and whole.
fn verified_sum(sum: &[u8]) -> Option<[u8; 32]> {
    sum.strip_prefix(MAGIC)?.try_into().ok()
}

/// BLAKE3 of a file, streamed (no copy of the whole file in memory).
fn file_hash(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(*hasher.finalize().as_bytes())
}

/// Unmaps the pages of a freshly loaded artifact from this process (they stay
/// in the page cache), so an idle route costs its metadata, not its code.
///
/// Why: `deserialize_file` maps the artifact and reads only its header,
/// metadata and unwind tables, but the artifact is in the page cache (we
/// just checksummed it) and the kernel's fault-around then maps whole 64 KiB
/// windows of it: ~300 KiB of RSS per route after start, code no request has
/// run yet. Pages come back by minor fault from the page cache when a request
/// runs the code.
///
/// Why it is sound: the mapping is a private mapping of a file in our
/// owner-only cache directory that is only ever replaced by rename, never
/// written in place, and wasmtime never writes to it — it refuses artifacts
/// with relocations and makes the whole mapping read-only (code read+execute)
/// before it runs anything from it. So it holds no private copies of pages,
/// and `MADV_DONTNEED` only drops page-table entries: the next access reads
/// the same bytes from the file.
#[allow(unsafe_code)]
fn release_mapped_pages(component: &Component) {
    let image = component.image_range();
    let len = image.end.addr() - image.start.addr();
    // SAFETY: see above; `image` is exactly wasmtime's mapping of the file.
    let released =
        unsafe { rustix::mm::madvise(image.start.cast_mut().cast(), len, rustix::mm::Advice::LinuxDontNeed) };
    if let Err(e) = released {
        tracing::debug!("compile cache: madvise(DONTNEED) on a loaded artifact failed: {e}");
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_files_need_our_magic_and_a_whole_checksum() {
        let mut sum = MAGIC.to_vec();
        sum.extend_from_slice(blake3::hash(b"artifact").as_bytes());
        assert_eq!(verified_sum(&sum), Some(*blake3::hash(b"artifact").as_bytes()));
        assert_eq!(verified_sum(&sum[..20]), None, "a torn sum file is caught");
        assert_eq!(verified_sum(b"\x7fELF...."), None, "a foreign file is ignored");
        let mut long = sum.clone();
        long.push(0);
        assert_eq!(verified_sum(&long), None);
    }

    #[test]
    fn file_hash_matches_in_memory_hash() {
        let dir = tempfile_dir();
        let path = dir.join("f");
        let data: Vec<u8> = (0..600_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(file_hash(&path).unwrap(), *blake3::hash(&data).as_bytes());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasmroutes-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
