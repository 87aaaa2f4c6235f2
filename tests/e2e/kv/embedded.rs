//! The suite on the embedded store (a redb file under `.wasmroutes/`), plus
//! what only it promises: an acknowledged write survives `kill -9`, and the
//! `wasmroutes kv` command works on the same file — but never while a
//! server holds it.

use std::time::Duration;

use e2e_support::eventually;
use e2e_support::keep_alive::Connection;

use super::{Backend, Deployment, clients, kv_command, post_task, task_title};

#[test]
fn tasks_answer_as_specified() {
    super::tasks_answer_as_specified(&Backend::Embedded);
}

#[test]
fn list_keys_pages_return_every_key_once() {
    super::list_keys_pages_return_every_key_once(&Backend::Embedded, true);
}

#[test]
fn increments_are_exact() {
    super::increments_are_exact(&Backend::Embedded);
}

#[test]
fn compare_and_swap_loses_no_update() {
    super::compare_and_swap_loses_no_update(&Backend::Embedded);
}

#[test]
fn undeclared_stores_are_denied() {
    super::undeclared_stores_are_denied(&Backend::Embedded);
}

#[test]
fn limits_are_enforced() {
    super::limits_are_enforced(&Backend::Embedded);
}

/// Every write the host acknowledged is there after `kill -9` (no shutdown,
/// no flush): a 2xx means the write was fsynced.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let deployment = Deployment::new(&Backend::Embedded, "");
    let mut host = deployment.start();
    let acknowledged: Vec<(u64, String)> = clients(&host, 16, |c, conn| {
        (0..40)
            .filter_map(|i| {
                let title = format!("task {c}-{i}");
                let resp = post_task(conn, &title);
                assert_eq!(resp.status, 201, "{}", resp.text());
                resp.json()["id"].as_u64().map(|id| (id, title))
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    host.kill();
    assert_eq!(acknowledged.len(), 640);

    let host = deployment.start();
    let mut conn = Connection::open(host.addr);
    for (id, title) in &acknowledged {
        assert_eq!(task_title(&mut conn, *id).as_deref(), Some(title.as_str()), "task {id} lost after kill -9");
    }
    let next = post_task(&mut conn, "after").json()["id"].as_u64().expect("id");
    let highest = acknowledged.iter().map(|(id, _)| *id).max().unwrap_or(0);
    assert!(next > highest, "the id counter survived too: {next} after {highest}");
}

/// A graceful restart keeps the data, and a `serve --watch` reload keeps
/// the open stores; a reload that changes a store is refused until restart.
#[test]
fn stores_survive_restarts_and_reloads() {
    let deployment = Deployment::new(&Backend::Embedded, "");
    let mut host = deployment.start();
    let id = post_task(&mut Connection::open(host.addr), "keep me").json()["id"].as_u64().expect("id");
    host.terminate();

    let host = e2e_support::TestHost::manifest(&deployment.manifest).args(&["--watch"]).start();
    let mut conn = Connection::open(host.addr);
    assert_eq!(task_title(&mut conn, id).as_deref(), Some("keep me"), "survives a restart");

    let text = std::fs::read_to_string(&deployment.manifest).expect("read");
    std::fs::write(
        &deployment.manifest,
        text.replace(
            "type = \"embedded\"\n\n[key_value_store.other]",
            "type = \"embedded\"\nmax_value = \"2KiB\"\n\n[key_value_store.other]",
        ),
    )
    .expect("write");
    let log = eventually(Duration::from_secs(20), || match host.log_text() {
        log if log.contains("restart") => Ok(log),
        log => Err(format!("no reload message: {log}")),
    });
    assert!(log.contains("`default` changed") && log.contains("restart `wasmroutes serve`"), "{log}");
    assert_eq!(task_title(&mut Connection::open(host.addr), id).as_deref(), Some("keep me"), "still serving the data");
}

/// `wasmroutes kv` reads and fixes a store's data, and refuses, saying
/// why, while a server has the file open.
#[test]
fn the_kv_command_reads_and_writes_the_store() {
    let deployment = Deployment::new(&Backend::Embedded, "");
    let mut host = deployment.start();
    let id = post_task(&mut Connection::open(host.addr), "from the API").json()["id"].as_u64().expect("id");

    let (code, _, stderr) = kv_command(&deployment, &["list"]);
    assert_eq!(code, 1, "refused while the server runs: {stderr}");
    assert!(stderr.contains("in use") && stderr.contains("stop the server"), "says why and what to do: {stderr}");
    host.terminate();

    let (code, stdout, stderr) = kv_command(&deployment, &["list", "--prefix", "task:"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let key = stdout.trim().to_owned();
    let (code, stdout, _) = kv_command(&deployment, &["get", &key]);
    assert_eq!(code, 0);
    let task: serde_json::Value = serde_json::from_str(stdout.trim()).expect("the task's JSON");
    assert_eq!(task["title"], "from the API");

    let fixed = serde_json::json!({ "id": id, "title": "fixed by hand", "done": true }).to_string();
    assert_eq!(kv_command(&deployment, &["set", &key, &fixed]).0, 0);
    assert_eq!(kv_command(&deployment, &["set", "scratch", "x"]).0, 0);
    assert_eq!(kv_command(&deployment, &["delete", "scratch"]).0, 0);
    let (code, _, stderr) = kv_command(&deployment, &["get", "scratch"]);
    assert!(code == 1 && stderr.contains("not set"), "{stderr}");
    let (code, _, stderr) = kv_command(&deployment, &["--store", "nope", "list"]);
    assert!(code == 1 && stderr.contains("no key-value store `nope`"), "{stderr}");

    let host = deployment.start();
    assert_eq!(task_title(&mut Connection::open(host.addr), id).as_deref(), Some("fixed by hand"));
    assert!(
        deployment.data_dir().join("kv/default.redb").is_file(),
        "the file lives under .wasmroutes/ beside routes.toml"
    );
}

/// Each open compare-and-swap holds a copy of the value on the host,
/// outside the guest's memory limit: an instance may hold at most 64 MiB
/// that way, and a guest that hoards them gets a `limit` error, not a
/// bigger host.
#[test]
fn open_compare_and_swaps_are_bounded() {
    let deployment = Deployment::new(&Backend::Embedded, "");
    let host = deployment.start();
    let mut conn = Connection::open(host.addr);
    assert_eq!(conn.request("POST", "/kv?key=big", &vec![b'x'; 512 << 10]).status, 204);
    assert_eq!(conn.request("GET", "/kv?op=cas-hoard&key=big&n=128", b"").text(), "128", "64 MiB is allowed");
    let refused = conn.request("GET", "/kv?op=cas-hoard&key=big&n=129", b"");
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert!(refused.text().contains("limit: open compare-and-swaps would hold more than 64MiB"), "{}", refused.text());
    assert_eq!(conn.request("GET", "/kv?op=cas-hoard&key=big&n=128", b"").text(), "128", "per instance, not per host");
}
