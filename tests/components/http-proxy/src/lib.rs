//! A `wasi:http/proxy` component as someone would write one for `wasmtime
//! serve`: it answers every request itself. What it does depends on the last
//! path segment, so the tests can drive each behaviour through one route:
//!
//! - `trap`: panics; `spin`: never returns; `grow`: allocates until stopped;
//! - `print`: writes to stdout and stderr, then answers;
//! - `no-response`: returns without setting a response;
//! - `fetch?url=URL`: GETs URL through `wasi:http/outgoing-handler` and
//!   reports the status or the error;
//! - `stream-echo`: answers 200 at once, then writes back each piece of the
//!   request body as it reads it; a body that fails to read is logged and
//!   the response body dropped unfinished;
//! - `chunks?count=N&interval_ms=M&trap_after=K`: writes `chunk I\n` N
//!   times, M ms apart, logging each on stdout; with `trap_after`, panics
//!   after K chunks;
//! - anything else: echoes the request as JSON (method, URL, the routing
//!   headers, body, and the env var `GREETING`).

use std::io::{Read as _, Write as _};

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};

wasip2::http::proxy::export!(Proxy);

struct Proxy;

impl wasip2::exports::http::incoming_handler::Guest for Proxy {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let path = path_with_query.split('?').next().unwrap_or_default().to_owned();
        let last = path.rsplit('/').next().unwrap_or_default().to_owned();
        match last.as_str() {
            "trap" => panic!("the proxy component panics on purpose"),
            "spin" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                }
            }
            "no-response" => {}
            "stream-echo" => stream_echo(request, out),
            "chunks" => chunks(&path_with_query, out),
            "print" => {
                println!("proxy says hello on stdout");
                eprintln!("proxy says hello on stderr");
                respond(out, 200, "text/plain", b"printed".to_vec());
            }
            "fetch" => {
                let url = path_with_query.split_once("url=").map(|(_, u)| u.to_owned()).unwrap_or_default();
                let report = match fetch(&url) {
                    Ok(status) => serde_json::json!({ "status": status }),
                    Err(error) => serde_json::json!({ "error": error }),
                };
                respond(out, 200, "application/json", report.to_string().into_bytes());
            }
            _ => echo(request, out),
        }
    }
}

fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let method = match request.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Other(other) => other,
        _ => "?".to_owned(),
    };
    let authority = request.authority().unwrap_or_default();
    let path_with_query = request.path_with_query().unwrap_or_default();
    let mut headers = serde_json::Map::new();
    for (name, value) in request.headers().entries() {
        if name.starts_with("x-wasmroutes-") || name.starts_with("spin-") || name == "x-request-id" || name == "x-test"
        {
            headers.insert(name, String::from_utf8_lossy(&value).into_owned().into());
        }
    }
    let mut body = Vec::new();
    if let Ok(incoming) = request.consume()
        && let Ok(mut stream) = incoming.stream()
    {
        let _ = stream.read_to_end(&mut body);
    }
    let echoed = serde_json::json!({
        "method": method,
        "url": format!("http://{authority}{path_with_query}"),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "greeting": std::env::var("GREETING").ok(),
    });
    respond(out, 200, "application/json", echoed.to_string().into_bytes());
}

fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: Vec<u8>) {
    let headers = Fields::new();
    let _ = headers.append("content-type", content_type.as_bytes());
    let _ = headers.append("x-from", b"proxy");
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = outgoing.write() {
        let _ = stream.write_all(&body);
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Sets a 200 answer with `content_type` and returns its body, unwritten.
fn start(out: ResponseOutparam, content_type: &str) -> Option<OutgoingBody> {
    let headers = Fields::new();
    let _ = headers.append("content-type", content_type.as_bytes());
    let response = OutgoingResponse::new(headers);
    let body = response.body().ok()?;
    ResponseOutparam::set(out, Ok(response));
    Some(body)
}

fn stream_echo(request: IncomingRequest, out: ResponseOutparam) {
    let Some(outgoing) = start(out, "application/octet-stream") else { return };
    let (Ok(incoming), Ok(mut writer)) = (request.consume(), outgoing.write()) else { return };
    let Ok(reader) = incoming.stream() else { return };
    loop {
        match reader.blocking_read(64 * 1024) {
            Ok(piece) => {
                if writer.write_all(&piece).and_then(|()| std::io::Write::flush(&mut writer)).is_err() {
                    eprintln!("stream-echo: the client went away");
                    return;
                }
            }
            Err(wasip2::io::streams::StreamError::Closed) => break,
            Err(wasip2::io::streams::StreamError::LastOperationFailed(e)) => {
                // Unfinished, the body is cut off: the client must not take
                // a part for the whole.
                eprintln!("stream-echo: read failed: {}", e.to_debug_string());
                return;
            }
        }
    }
    drop(writer);
    drop(reader);
    let _ = OutgoingBody::finish(outgoing, None);
}

fn chunks(path_with_query: &str, out: ResponseOutparam) {
    let count = query(path_with_query, "count").unwrap_or(5);
    let interval = query(path_with_query, "interval_ms").unwrap_or(0);
    let trap_after = query(path_with_query, "trap_after");
    let Some(outgoing) = start(out, "text/plain") else { return };
    let Ok(mut writer) = outgoing.write() else { return };
    for i in 0..count {
        if trap_after == Some(i) {
            panic!("the proxy component panics mid-body on purpose");
        }
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(interval));
        }
        if writer
            .write_all(format!("chunk {i}\n").as_bytes())
            .and_then(|()| std::io::Write::flush(&mut writer))
            .is_err()
        {
            return;
        }
        println!("chunks: wrote chunk {i}");
    }
    drop(writer);
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The number `name=N` in the query, if there is one.
fn query(path_with_query: &str, name: &str) -> Option<u64> {
    let (_, query) = path_with_query.split_once('?')?;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// `GET url` (plain http), its status or the error.
fn fetch(url: &str) -> Result<u16, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let future = wasip2::http::outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future.get().ok_or("no response")?.map_err(|()| "taken")?.map_err(|e| format!("{e:?}"))?;
    Ok(response.status())
}
