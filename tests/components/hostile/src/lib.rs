//! A route that fails on purpose, chosen by `?do=`: the host must answer each
//! failure cleanly and keep serving.

use std::time::Duration;

use wasmroutes_sdk::{Request, Response, route};

/// The hostile route.
pub struct Hostile;

#[route]
impl Hostile {
    /// Misbehaves as `?do=` says; otherwise describes the request it got.
    pub fn get(req: Request) -> Response {
        misbehave(&req)
    }

    /// Same as `get`, for tests that send a body.
    pub fn post(req: Request) -> Response {
        misbehave(&req)
    }
}

fn misbehave(req: &Request) -> Response {
    match req.query("do").unwrap_or("echo") {
        "trap" => trap(),
        "panic" => panic!("hostile guest panics on purpose"),
        "loop" => loop {
            std::hint::black_box(());
        },
        "recurse" => Response::json(&recurse(std::hint::black_box(1))),
        "alloc" => {
            // black_box keeps the optimizer from eliding the allocation.
            let big: Vec<u8> = std::hint::black_box(vec![1; 1 << 30]);
            Response::json(&big.iter().map(|b| *b as usize).sum::<usize>())
        }
        "bad-status" => Response::new().status(req.query("status").and_then(|s| s.parse().ok()).unwrap_or(1000)),
        "bad-header" => Response::json(&"x").header("bad header name", "v"),
        // A guest's own CORS headers, which a route's `cors` replaces.
        "own-cors" => Response::json(&"x").header("access-control-allow-origin", "*").header("vary", "accept"),
        "bad-header-value" => Response::json(&"x").header("x-ok", "line\nbreak"),
        "sleep" => {
            let ms = req.query("ms").and_then(|s| s.parse().ok()).unwrap_or(100);
            std::thread::sleep(Duration::from_millis(ms));
            Response::json(&serde_json::json!({ "slept_ms": ms }))
        }
        "env" => {
            let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            Response::json(&vars)
        }
        "read-file" => {
            let path = req.query("path").unwrap_or("/etc/passwd");
            outcome(std::fs::read_to_string(path).map(|text| text.len()))
        }
        "list-dir" => outcome(std::fs::read_dir("/").map(|entries| entries.count())),
        "socket" => {
            let addr = req.query("addr").unwrap_or("127.0.0.1:80");
            outcome(std::net::TcpStream::connect(addr).map(|_| 0))
        }
        "fetch" => {
            let url = req.query("url").unwrap_or("http://127.0.0.1:9/");
            let mut fetch = wasmroutes_sdk::fetch::get(url);
            if let Some(host) = req.query("host") {
                // A guest may not pick the `Host` the upstream sees.
                fetch = fetch.header("host", host);
            }
            match fetch.send() {
                Ok(resp) => Response::json(&serde_json::json!({ "status": resp.status(), "body": resp.text() })),
                Err(e) if e.is_denied() => wasmroutes_sdk::Error::forbidden(e.message()).into(),
                Err(e) => wasmroutes_sdk::Error::from(e).into(),
            }
        }
        "spam" => {
            let lines: usize = req.query("lines").and_then(|s| s.parse().ok()).unwrap_or(100);
            let width: usize = req.query("width").and_then(|s| s.parse().ok()).unwrap_or(1);
            let line = "x".repeat(width);
            for _ in 0..lines {
                println!("{line}");
            }
            Response::json(&lines)
        }
        "big" => {
            let mib: usize = req.query("mib").and_then(|s| s.parse().ok()).unwrap_or(17);
            Response::new().body(vec![b'b'; mib << 20])
        }
        "count" => {
            // State that survives between requests only when the route opts
            // into instance reuse.
            static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            Response::json(&(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1))
        }
        "args" => Response::json(&std::env::args().collect::<Vec<_>>()),
        "print" => {
            println!("hello from the guest's stdout");
            eprintln!("hello from the guest's stderr");
            Response::json(&"printed")
        }
        _ => Response::json(&serde_json::json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_pairs(),
            "headers": req.headers(),
            "body_len": req.body().len(),
        }))
        .header("x-echo", "1"),
    }
}

/// `{"ok": true, "value": n}` or `{"ok": false, "error": "..."}`.
fn outcome(result: std::io::Result<usize>) -> Response {
    match result {
        Ok(value) => Response::json(&serde_json::json!({ "ok": true, "value": value })),
        Err(e) => Response::json(&serde_json::json!({ "ok": false, "error": e.to_string() })),
    }
}

/// Recursion with no base case the optimizer can see: overflows the stack.
#[allow(unconditional_recursion)] // on purpose
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 64];
    std::hint::black_box(&mut frame);
    recurse(frame[7] + 1) + frame[3]
}

#[cfg(target_arch = "wasm32")]
fn trap() -> Response {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> Response {
    std::process::abort()
}
