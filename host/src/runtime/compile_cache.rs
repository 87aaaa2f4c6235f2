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
//! The cache is bounded: after each load, entries beyond its size cap
//! ([`DEFAULT_MAX_SIZE`] unless configured) are removed least recently used
//! first (a hit refreshes the sum file's modification time, which is what
//! "used" means here), never one the loaded deployment uses. A component
//! that changes often (a route being edited under `serve --watch`) leaves
//! an entry per version, and a JavaScript route's is tens of megabytes.
//!
//! Why BLAKE3 rather than SHA-256: a restart hashes every component and every
//! artifact (~450 MB for 1,000 routes). With SHA-256 (even with the CPU's SHA
//! extensions) that was 42% of start-up CPU; BLAKE3 hashes the same bytes
//! several times faster with SIMD and is just as collision-resistant.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Marks files this host wrote (format 2: BLAKE3 sums; format 1 files,
/// with SHA-256 sums, are treated as foreign and rebuilt).
const MAGIC: &[u8; 8] = b"WRCWASM2";

/// The size cap of a cache that is not given one: a few dozen JavaScript
/// routes, or thousands of Rust ones.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;

/// Temp files older than this are left over from a crash, not a write in
/// progress (a write takes seconds at most).
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
    max_size: u64,
    /// Set after the first failed write. A read-only cache (a container
    /// image's pre-warmed cache on a read-only root filesystem) fails every
    /// write the same way: one warning says it, not one per component.
    write_failed: Arc<AtomicBool>,
}

/// How much the cache holds: its compiled components, not the JavaScript
/// toolchain that shares its directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Compiled components.
    pub entries: usize,
    /// Their bytes on disk (artifacts and sum files).
    pub bytes: u64,
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
        CompileCache { dir: dir.into(), max_size: DEFAULT_MAX_SIZE, write_failed: Arc::new(AtomicBool::new(false)) }
    }

    /// The same cache, kept within `bytes` by [`CompileCache::trim`].
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap [`CompileCache::trim`] keeps the cache within.
    pub fn max_size(&self) -> u64 {
        self.max_size
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
            mark_used(&path);
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

    /// Removes entries, least recently used first, until the cache is within
    /// its size cap; entries for `in_use` (the components a loaded table
    /// holds) are never removed. Also removes what a crash left behind.
    /// Returns what is left. A cache that cannot be written is left as it is.
    pub fn trim<'a>(&self, engine: &Engine, in_use: impl IntoIterator<Item = &'a ContentHash>) -> CacheUsage {
        if self.write_failed.load(Ordering::Relaxed) {
            return self.usage();
        }
        let keep: HashSet<PathBuf> = in_use.into_iter().map(|hash| self.entry_path(engine, hash)).collect();
        let mut entries = self.entries();
        let mut left = CacheUsage { entries: entries.len(), bytes: entries.iter().map(|e| e.bytes).sum() };
        let before = left;
        entries.retain(|e| !keep.contains(&e.artifact));
        entries.sort_by_key(|e| e.last_used);
        for entry in entries {
            if left.bytes <= self.max_size {
                break;
            }
            if entry.remove() {
                left.entries -= 1;
                left.bytes -= entry.bytes;
            }
        }
        if left.entries < before.entries {
            tracing::info!(
                "compile cache: removed {} least recently used component(s), {}, to stay within {} ({})",
                before.entries - left.entries,
                crate::limits::approximate_size(before.bytes - left.bytes),
                crate::limits::format_size(self.max_size),
                self.dir.display()
            );
        }
        if left.bytes > self.max_size {
            tracing::warn!(
                "compile cache: the components in use alone take {}, over the cache's {} ({}): raise --cache-max-size",
                crate::limits::approximate_size(left.bytes),
                crate::limits::format_size(self.max_size),
                self.dir.display()
            );
        }
        left
    }

    /// What the cache holds now.
    pub fn usage(&self) -> CacheUsage {
        let entries = self.entries();
        CacheUsage { entries: entries.len(), bytes: entries.iter().map(|e| e.bytes).sum() }
    }

    /// Removes every compiled component (and any crash leftovers); the
    /// JavaScript toolchain in the same directory stays. Returns what was
    /// removed. Safe while a host runs: it has its components mapped, and
    /// its next start compiles them again.
    pub fn clear(&self) -> CacheUsage {
        let mut removed = CacheUsage::default();
        for entry in self.entries() {
            if entry.remove() {
                removed.entries += 1;
                removed.bytes += entry.bytes;
            }
        }
        removed
    }

    /// Every entry in the directory, and, on the way, removes sum files
    /// without their artifact and temp files a crash left.
    fn entries(&self) -> Vec<Entry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut entries = Vec::new();
        for item in dir.flatten() {
            let path = item.path();
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() {
                continue; // the JavaScript toolchain, or anything else not ours
            }
            let name = item.file_name();
            let name = name.to_string_lossy();
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.ends_with(".cwasm") {
                let sum = std::fs::metadata(sum_path(&path)).ok();
                let last_used = sum.as_ref().and_then(|m| m.modified().ok()).unwrap_or(modified);
                let bytes = meta.len() + sum.map_or(0, |m| m.len());
                entries.push(Entry { artifact: path, bytes, last_used });
            } else if let Some(artifact) = name.strip_suffix(".sum").filter(|a| a.ends_with(".cwasm")) {
                if !self.dir.join(artifact).exists() {
                    let _ = std::fs::remove_file(&path);
                }
            } else if name.starts_with(".tmp-") && modified.elapsed().is_ok_and(|age| age > STALE_TEMP_AGE) {
                let _ = std::fs::remove_file(&path);
            }
        }
        entries
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
            // Removed by a trim or `cache clear` between the two reads: a miss.
            Some(_) if !path.exists() => return None,
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

/// One compiled component on disk.
struct Entry {
    artifact: PathBuf,
    /// Artifact and sum file together.
    bytes: u64,
    last_used: SystemTime,
}

impl Entry {
    /// Artifact first: a reader that finds a sum without its artifact takes
    /// it for a miss (see `read`). False if the artifact could not go.
    fn remove(&self) -> bool {
        let removed = match std::fs::remove_file(&self.artifact) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true, // another host trimmed it
            Err(e) => {
                tracing::debug!("compile cache: cannot remove {}: {e}", self.artifact.display());
                false
            }
        };
        if removed {
            let _ = std::fs::remove_file(sum_path(&self.artifact));
        }
        removed
    }
}

/// Records a hit as the entry's last use, for least-recently-used trimming.
/// The sum file carries it: its contents never change after the write.
/// Best effort: a read-only cache just keeps its times.
fn mark_used(artifact: &Path) {
    if let Ok(sum) = std::fs::OpenOptions::new().write(true).open(sum_path(artifact)) {
        let _ = sum.set_modified(SystemTime::now());
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

    /// An entry of `bytes` (half artifact, half sum) last used `age` ago.
    fn fake_entry(cache: &CompileCache, engine: &Engine, hash: &ContentHash, bytes: usize, age: Duration) -> PathBuf {
        let artifact = cache.entry_path(engine, hash);
        std::fs::write(&artifact, vec![0; bytes / 2]).unwrap();
        std::fs::write(sum_path(&artifact), vec![0; bytes / 2]).unwrap();
        let sum = std::fs::File::options().write(true).open(sum_path(&artifact)).unwrap();
        sum.set_modified(SystemTime::now() - age).unwrap();
        artifact
    }

    #[test]
    fn trimming_removes_the_least_recently_used_and_spares_what_is_in_use() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_owned();
        std::fs::create_dir_all(dir.join("js-toolchain")).unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(&dir).with_max_size(250);
        let hour = Duration::from_secs(3600);
        let in_use_oldest = fake_entry(&cache, &engine, &[3; 32], 100, 9 * hour);
        let old = fake_entry(&cache, &engine, &[1; 32], 100, 5 * hour);
        let older_than_newest = fake_entry(&cache, &engine, &[2; 32], 100, 2 * hour);
        let newest = fake_entry(&cache, &engine, &[4; 32], 100, Duration::ZERO);
        let orphan_sum = dir.join("f00d-0000000000000000.cwasm.sum");
        std::fs::write(&orphan_sum, b"").unwrap();
        let stale_temp = dir.join(".tmp-artifact-1-ThreadId(2)");
        std::fs::File::create(&stale_temp).unwrap().set_modified(SystemTime::now() - 2 * hour).unwrap();
        let fresh_temp = dir.join(".tmp-artifact-2-ThreadId(2)");
        std::fs::write(&fresh_temp, b"").unwrap();

        assert_eq!(cache.usage(), CacheUsage { entries: 4, bytes: 400 });
        let left = cache.trim(&engine, [&[3; 32]]);
        assert_eq!(left, CacheUsage { entries: 2, bytes: 200 });
        assert!(in_use_oldest.exists() && newest.exists(), "in use, or the most recently used");
        assert!(!old.exists() && !sum_path(&old).exists() && !older_than_newest.exists());
        assert!(!orphan_sum.exists() && !stale_temp.exists(), "crash leftovers go");
        assert!(fresh_temp.exists(), "a write in progress stays");

        // Everything in use and still over the cap: nothing in use goes.
        let tight = CompileCache::new(&dir).with_max_size(10);
        assert_eq!(tight.trim(&engine, [&[3; 32], &[4; 32]]), CacheUsage { entries: 2, bytes: 200 });
        assert_eq!(tight.clear(), CacheUsage { entries: 2, bytes: 200 });
        assert_eq!(cache.usage(), CacheUsage::default());
        assert!(dir.join("js-toolchain").is_dir(), "the JavaScript toolchain is not the cache's to clear");
    }

    #[test]
    fn a_hit_marks_the_entry_as_used_now() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let engine = Engine::default();
        let cache = CompileCache::new(dir);
        let artifact = fake_entry(&cache, &engine, &[7; 32], 10, Duration::from_secs(86_400));
        mark_used(&artifact);
        let used = std::fs::metadata(sum_path(&artifact)).unwrap().modified().unwrap();
        assert!(used.elapsed().unwrap() < Duration::from_secs(60));
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasmroutes-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
