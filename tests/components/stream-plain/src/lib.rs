//! A route that streams, written against `wasmroutes:api@0.2` directly with
//! `wit_bindgen` and no SDK: what the end-to-end tests of streamed answers
//! drive. It exports `get-streaming` and `post-streaming`.
//!
//! `GET` query (every key optional):
//!
//! | key | meaning |
//! |---|---|
//! | `chunks=N` | write N chunks (default 3; `0`: until a write fails) |
//! | `interval_ms=M` | sleep M ms before each chunk after the first |
//! | `size=S` | each chunk is S bytes of `x` (default: the text `chunk <i>\n`) |
//! | `delay_ms=D` | sleep D ms before `start` |
//! | `status=X` | start with status X (default 200) |
//! | `no_start=1` | return without calling `start` |
//! | `trap_after=K` | panic after K chunks |
//! | `abort_after=K` | abort after K chunks, silently (a panic prints first, and printing may wait) |
//! | `keep_going=1` | ignore write errors and go on writing (a guest that does not listen) |
//! | `flush=1` | flush after each chunk |
//! | `finish_then_ms=F` | after the chunks, `finish` the body, then sleep F ms |
//!
//! Every write error is printed to stderr as `stream-plain: write failed:
//! <error>` (the host logs it with the request id). `POST` streams the
//! request body back in 64 KiB chunks.

// Only a component: natively the crate is empty.
#![cfg(target_arch = "wasm32")]

#[allow(unsafe_code, missing_docs, clippy::all)] // wit-bindgen's generated glue
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package test:stream-plain;
            world stream-plain {
                export wasmroutes:api/get-streaming@0.2.0;
                export wasmroutes:api/post-streaming@0.2.0;
            }
        ",
        world: "test:stream-plain/stream-plain",
        generate_all,
    });
}

use std::time::Duration;

use bindings::exports::wasmroutes::api::{get_streaming, post_streaming};
use bindings::wasmroutes::api::types::{BodyWriter, Request, Responder};

/// The exported route.
struct StreamPlain;

// The export glue wit-bindgen generates is `unsafe` by nature.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(StreamPlain with_types_in bindings);
};

fn query<'r>(req: &'r Request, key: &str) -> Option<&'r str> {
    req.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn number(req: &Request, key: &str, default: u64) -> u64 {
    query(req, key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sleep_ms(ms: u64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn start(res: Responder, status: u16) -> Option<BodyWriter> {
    let headers = vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())];
    match Responder::start(res, status, &headers) {
        Ok(writer) => Some(writer),
        Err(e) => {
            eprintln!("stream-plain: start failed: {e:?}");
            None
        }
    }
}

impl get_streaming::Guest for StreamPlain {
    fn handle(req: Request, res: Responder) {
        sleep_ms(number(&req, "delay_ms", 0));
        if query(&req, "no_start").is_some() {
            return;
        }
        let status = u16::try_from(number(&req, "status", 200)).unwrap_or(0);
        let Some(writer) = start(res, status) else { return };
        let chunks = number(&req, "chunks", 3);
        let interval = number(&req, "interval_ms", 0);
        let size = query(&req, "size").and_then(|v| v.parse::<usize>().ok());
        let trap_after = query(&req, "trap_after").and_then(|v| v.parse::<u64>().ok());
        let abort_after = query(&req, "abort_after").and_then(|v| v.parse::<u64>().ok());
        let keep_going = query(&req, "keep_going").is_some();
        let flush = query(&req, "flush").is_some();
        let mut i = 0;
        while chunks == 0 || i < chunks {
            if trap_after == Some(i) {
                panic!("stream-plain: trapping after {i} chunks");
            }
            if abort_after == Some(i) {
                std::process::abort();
            }
            if i > 0 {
                sleep_ms(interval);
            }
            let chunk = match size {
                Some(size) => vec![b'x'; size],
                None => format!("chunk {i}\n").into_bytes(),
            };
            let mut written = writer.write(&chunk);
            if written.is_ok() && flush {
                written = writer.flush();
            }
            if let Err(e) = written {
                eprintln!("stream-plain: write failed: {e:?}");
                if !keep_going {
                    return;
                }
            }
            i += 1;
        }
        if let Some(ms) = query(&req, "finish_then_ms").and_then(|v| v.parse::<u64>().ok()) {
            if let Err(e) = BodyWriter::finish(writer) {
                eprintln!("stream-plain: finish failed: {e:?}");
            }
            sleep_ms(ms);
        }
    }
}

impl post_streaming::Guest for StreamPlain {
    fn handle(req: Request, res: Responder) {
        let Some(writer) = start(res, 200) else { return };
        for chunk in req.body.chunks(64 * 1024) {
            if let Err(e) = writer.write(chunk) {
                eprintln!("stream-plain: write failed: {e:?}");
                return;
            }
        }
    }
}
