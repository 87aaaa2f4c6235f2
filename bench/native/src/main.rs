//! The native baseline for `bench/run.sh`: the benchmarked routes answered by
//! plain hyper with the same JSON as the sample components, on the same kind
//! of tokio runtime. Usage: `native-baseline ADDR` (prints `listening on ...`).
//!
//! `GET /stream?chunks=N&size=S` streams N chunks (default 3) of S bytes of
//! `x` each (default: the text `chunk <i>\n`), as `tests/components/stream-plain`
//! does: written by a task of its own through a queue of 4 chunks, as the
//! host's streamed answers are (`bench/streaming.sh`).
//!
//! HTTP/1.1 only (`http1::Builder`): the load generator speaks nothing else,
//! and hyper-util's auto builder first sniffs every connection for the h2
//! preface, which makes the baseline slower than the physical limit it is
//! meant to be (bench/README.md, "A native row that fills its core").

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Post<'a> {
    id: &'a str,
    title: String,
    content: &'static str,
}

#[derive(Deserialize)]
struct NewUser {
    name: Option<serde_json::Value>,
    email: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct User {
    id: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<serde_json::Value>,
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    resp
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let resp = match (req.method().as_str(), path.as_str()) {
        ("GET", "/api/hello") => json(StatusCode::OK, br#"{"message":"Hello from API!"}"#.to_vec()),
        ("GET", p) if p.starts_with("/api/posts/") => {
            let id = &p["/api/posts/".len()..];
            let post = Post { id, title: format!("Post {id}"), content: "Post content here..." };
            json(StatusCode::OK, serde_json::to_vec(&post).unwrap_or_default())
        }
        ("GET", "/api/search") => {
            let pairs: Vec<(String, String)> = query
                .as_deref()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            let q = pairs.iter().find(|(k, _)| k == "q").map(|(_, v)| v.as_str());
            let limit: u64 = pairs.iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(10);
            let body = serde_json::json!({
                "query": q, "limit": limit,
                "results": [{ "id": 1, "name": format!("Result for {}", q.unwrap_or("null")) }],
            });
            json(StatusCode::OK, body.to_string().into_bytes())
        }
        ("POST", "/api/users") => {
            let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            match serde_json::from_slice::<NewUser>(&bytes) {
                Ok(u) => {
                    let id = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or_default();
                    let user = User { id, name: u.name, email: u.email };
                    json(StatusCode::CREATED, serde_json::to_vec(&user).unwrap_or_default())
                }
                Err(e) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": e.to_string() }).to_string().into_bytes(),
                ),
            }
        }
        _ => json(StatusCode::NOT_FOUND, br#"{"error":"Not found"}"#.to_vec()),
    };
    Ok(resp)
}

/// A body whose chunks come from a task of its own through a bounded queue.
struct Streamed(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// `GET /stream?chunks=&size=`: a `text/plain` body written by a task.
fn stream(query: Option<&str>) -> Response<Streamed> {
    let pairs: Vec<(String, String)> =
        query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let number = |key: &str| pairs.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse::<usize>().ok());
    let (chunks, size) = (number("chunks").unwrap_or(3), number("size"));
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for i in 0..chunks {
            let chunk = match size {
                Some(size) => vec![b'x'; size],
                None => format!("chunk {i}\n").into_bytes(),
            };
            if sender.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
    });
    let mut resp = Response::new(Streamed(receiver));
    resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

type AnyBody = Either<Full<Bytes>, Streamed>;

async fn serve(req: Request<Incoming>) -> Result<Response<AnyBody>, Infallible> {
    if req.method() == hyper::Method::GET && req.uri().path() == "/stream" {
        return Ok(stream(req.uri().query()).map(Either::Right));
    }
    handle(req).await.map(|resp| resp.map(Either::Left))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("native-baseline listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(serve);
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}
