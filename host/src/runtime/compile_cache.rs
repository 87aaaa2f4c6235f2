//! On-disk cache of compiled components, so a restart skips Cranelift.
//!
//! A cache file is named after the SHA-256 of the component's bytes and the
//! engine's compatibility hash (wasmtime version, target, settings), so a
//! changed component or engine never finds a stale entry. `deserialize` is
//! `unsafe` — it maps machine code — so a file is only used if it carries our
//! header and its checksum matches; anything else is ignored, recompiled and
//! overwritten. Files are written to a temp name and renamed into place, so a
//! crash never leaves a torn file under a real name.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Marks files this host wrote (format version 1).
const MAGIC: &[u8; 8] = b"WRCWASM1";

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
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
        CompileCache { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/wasmroutes` or `~/.cache/wasmroutes`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("wasmroutes"))
    }

    /// The compiled component for `bytes`: from the cache if a valid entry
    /// exists, otherwise compiled and stored.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, bytes);
        if let Some(component) = self.read(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.write(&path, &component) {
            tracing::warn!("compile cache: cannot write {}: {e}", path.display());
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let content = hex(&Sha256::digest(bytes));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{content}-{:016x}.cwasm", hasher.finish()))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let data = std::fs::read(path).ok()?;
        let artifact = verified_payload(&data);
        let Some(artifact) = artifact else {
            tracing::warn!("compile cache: ignoring {} (not written by this host or corrupt)", path.display());
            return None;
        };
        // SAFETY: the bytes carry our header and checksum, so they are an
        // artifact this host serialized itself; wasmtime additionally checks
        // that they match this engine's version and configuration.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artifact) };
        match component {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("compile cache: ignoring {}: {e}", path.display());
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let artifact = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let tmp = self.dir.join(format!(".tmp-{}-{:?}", std::process::id(), std::thread::current().id()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(&artifact))?;
        file.write_all(&artifact)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// The serialized artifact inside a cache file, if the file is ours and whole.
fn verified_payload(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(MAGIC)?;
    let (checksum, artifact) = rest.split_at_checked(32)?;
    (Sha256::digest(artifact).as_slice() == checksum).then_some(artifact)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_needs_magic_and_matching_checksum() {
        let artifact = b"compiled code";
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&Sha256::digest(artifact));
        file.extend_from_slice(artifact);
        assert_eq!(verified_payload(&file), Some(&artifact[..]));

        let mut corrupt = file.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert_eq!(verified_payload(&corrupt), None, "a flipped bit is caught");
        assert_eq!(verified_payload(&file[..20]), None, "a torn file is caught");
        assert_eq!(verified_payload(b"\x7fELF...."), None, "a foreign file is ignored");
    }
}
