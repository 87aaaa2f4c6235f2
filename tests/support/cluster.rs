//! The local cluster of `deploy/local/cluster.sh` (Redis, PostgreSQL, three
//! hosts, nginx), driven by the tests through the script itself: what the
//! tests prove is what a user runs. Each cluster gets its own temp dir and
//! free loopback ports, and is brought down on drop.
//!
//! The deployment it serves is `deploy/stage.sh`'s output (the container
//! image's `/app`), staged once per test process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{artifacts, free_port};

/// `deploy/stage.sh`'s layout (`bin/`, `routes.toml`, `components/`, the
/// pre-warmed `cache/`), built once per test process into [`stage_dir`].
pub fn staged() -> &'static Path {
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED.get_or_init(|| {
        let a = artifacts();
        let out = stage_dir(&a.target_dir);
        let output = Command::new(a.root.join("deploy/stage.sh"))
            .arg(&out)
            .env("CARGO_TARGET_DIR", &a.target_dir)
            .output()
            .expect("run deploy/stage.sh");
        assert!(output.status.success(), "deploy/stage.sh failed:\n{}", String::from_utf8_lossy(&output.stderr));
        out
    })
}

/// Where the image is staged: a folder of ours in the temp dir, one per
/// target dir (so a rerun restages in place instead of leaving copies),
/// open to every user. Not under the checkout: the read-only-root tests
/// serve it as the pod's non-root user, who must be able to reach it, and a
/// checkout may sit under a folder only its owner can enter (root's home,
/// any `mktemp -d`).
fn stage_dir(target_dir: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    target_dir.hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("wasmroutes-e2e-stage-{:016x}", hasher.finish()));
    match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("cannot create {}: {e}", dir.display()),
    }
    // Someone else's folder (or a symlink) of that name is not ours to fill.
    let ours = target_dir.metadata().expect("the target dir").uid();
    let meta = std::fs::symlink_metadata(&dir).expect("the stage dir");
    assert!(meta.is_dir() && meta.uid() == ours, "{} is not a folder of this user's", dir.display());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("open the stage dir");
    for ancestor in dir.ancestors().skip(1) {
        let mode = ancestor.metadata().map(|m| m.mode()).unwrap_or(0);
        assert!(mode & 0o001 != 0, "other users cannot enter {}: set TMPDIR to a folder they can", ancestor.display());
    }
    dir
}

/// A temp dir for the script's state that other users may enter: run as
/// root, the script runs PostgreSQL as the `postgres` user, whose cluster
/// lives in it.
fn cluster_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::Builder::new().prefix("wasmroutes-cluster-").tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("open the cluster dir");
    dir
}

/// A running local cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// nginx, in front of every host.
    pub nginx: SocketAddr,
    /// Each host's HTTP address (host `i` of the script is `hosts[i - 1]`).
    pub hosts: Vec<SocketAddr>,
    /// Each host's admin address.
    pub admins: Vec<SocketAddr>,
    /// The Redis server's port.
    pub redis_port: u16,
    /// The PostgreSQL server's port.
    pub postgres_port: u16,
}

impl Cluster {
    /// `cluster.sh up` with three hosts; panics with the script's output if
    /// it fails.
    pub fn up() -> Cluster {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let cluster = Cluster {
            dir: cluster_dir(),
            nginx: loopback(free_port()),
            hosts: (0..3).map(|_| loopback(free_port())).collect(),
            admins: (0..3).map(|_| loopback(free_port())).collect(),
            redis_port: free_port(),
            postgres_port: free_port(),
        };
        let ports = |addrs: &[SocketAddr]| addrs.iter().map(|a| a.port().to_string()).collect::<Vec<_>>().join(" ");
        cluster.script_with(
            &["up"],
            &[
                ("STAGE_DIR", staged().display().to_string()),
                ("PORT", cluster.nginx.port().to_string()),
                ("HOST_PORTS", ports(&cluster.hosts)),
                ("ADMIN_PORTS", ports(&cluster.admins)),
                ("REDIS_PORT", cluster.redis_port.to_string()),
                ("POSTGRES_PORT", cluster.postgres_port.to_string()),
                ("SHUTDOWN_GRACE", "10s".to_owned()),
            ],
        );
        cluster
    }

    /// Runs `cluster.sh ARGS` (e.g. `["host-kill", "2"]`) and returns what
    /// it printed; panics with its output if it fails.
    pub fn script(&self, args: &[&str]) -> String {
        self.script_with(args, &[])
    }

    fn script_with(&self, args: &[&str], env: &[(&str, String)]) -> String {
        let output = self.command(args, env).output().expect("run deploy/local/cluster.sh");
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "`cluster.sh {}` failed:\n{printed}\n{}", args.join(" "), self.logs());
        printed
    }

    fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut command = Command::new(artifacts().root.join("deploy/local/cluster.sh"));
        command.args(args).env("CLUSTER_DIR", self.dir.path()).env("RUST_LOG", "info");
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// The tail of every log the cluster wrote: for a failing test.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        let files = [
            "host-1/log".to_owned(),
            "host-2/log".to_owned(),
            "host-3/log".to_owned(),
            "nginx/error.log".to_owned(),
            "redis/redis.log".to_owned(),
            "postgres/postgres.log".to_owned(),
        ];
        for file in files {
            let contents = std::fs::read_to_string(self.dir.path().join(&file)).unwrap_or_default();
            let lines: Vec<&str> = contents.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            text.push_str(&format!("----- {file} (last 30 lines) -----\n{tail}\n"));
        }
        text
    }

    /// Where the script keeps state and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let down = self.command(&["down"], &[]).output();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        if !down.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("`cluster.sh down` failed: {down:?}");
        }
    }
}
