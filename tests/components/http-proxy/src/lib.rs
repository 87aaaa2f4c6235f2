//! A `wasi:http/proxy` component as someone would write one for `wasmtime
//! serve`: it answers every request itself. What it does depends on the last
//! path segment, so the tests can drive each behaviour through one route:
//!
//! - `trap`: panics; `spin`: never returns; `grow`: allocates until stopped;
//! - `print`: writes to stdout and stderr, then answers;
//! - `no-response`: returns without setting a response;
//! - `fetch?url=URL`: GETs URL through `wasi:http/outgoing-handler` and
//!   reports the status or the error;
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
