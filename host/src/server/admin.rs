//! The admin endpoints, on an address of their own (`serve --admin-addr`) so
//! they are never exposed alongside the routes:
//!
//! - `/metrics`: Prometheus text format.
//! - `/healthz`: `200` while the process is alive.
//! - `/openapi.json`: the OpenAPI 3.1 document of the routes being served
//!   ([`crate::openapi`]); after a reload, of the new table.
//! - `/readyz`: `503` until every route is loaded (and again while shutting
//!   down), `200` in between — what a load balancer should route by. The
//!   body lists the key-value stores in use and whether each answers; a
//!   store that does not makes the status `"degraded"` but keeps the `200`:
//!   a shared store (Redis) is down for every host alike, so taking hosts
//!   out of the balancer would only fail the routes that do not use it.
//!
//! Anything else is a JSON `404`. Plain HTTP/1.1 on the hyper the host
//! already uses, on a thread and tokio runtime of its own: loading the routes
//! keeps the main runtime's workers busy compiling, and a liveness probe must
//! still get its answer then (with one CPU the main runtime has one worker).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::runtime::response_body::ResponseBody;
use http::{HeaderValue, Method, StatusCode, header};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use super::host_error::json_response;
use crate::kv::Stores;
use crate::sql::Databases;

type AdminResponse = crate::runtime::executor::HttpResponse;

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the OpenAPI document of the routes being served.
pub type OpenApiSource = Box<dyn Fn() -> String + Send + Sync>;

/// What the admin endpoints report on.
pub struct Admin {
    metrics: PrometheusHandle,
    ready: AtomicBool,
    stores: OnceLock<Arc<Stores>>,
    databases: OnceLock<Arc<Databases>>,
    openapi: OnceLock<OpenApiSource>,
}

impl Admin {
    /// Not ready yet; `metrics` renders `/metrics`.
    pub fn new(metrics: PrometheusHandle) -> Self {
        Admin {
            metrics,
            ready: AtomicBool::new(false),
            stores: OnceLock::new(),
            databases: OnceLock::new(),
            openapi: OnceLock::new(),
        }
    }

    /// Where `/openapi.json` comes from, once the routes are loaded.
    pub fn set_openapi(&self, source: OpenApiSource) {
        let _ = self.openapi.set(source);
    }

    /// The stores `/readyz` reports on.
    pub fn set_stores(&self, stores: Arc<Stores>) {
        let _ = self.stores.set(stores);
    }

    /// The SQL databases `/readyz` reports on.
    pub fn set_databases(&self, databases: Arc<Databases>) {
        let _ = self.databases.set(databases);
    }

    /// Marks the host ready for traffic (every route loaded) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    async fn respond(&self, method: &Method, path: &str) -> AdminResponse {
        let known = matches!(path, "/metrics" | "/healthz" | "/readyz" | "/openapi.json");
        if !known {
            return json_response(
                StatusCode::NOT_FOUND,
                json_error("Not found; try /metrics, /healthz, /readyz or /openapi.json"),
            );
        }
        if method != Method::GET && method != Method::HEAD {
            let mut resp =
                json_response(StatusCode::METHOD_NOT_ALLOWED, json_error(&format!("Method {method} not allowed")));
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        match path {
            "/metrics" => {
                let mut resp = http::Response::new(ResponseBody::from(self.metrics.render()));
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
                resp
            }
            "/readyz" if !self.ready.load(Ordering::Acquire) => {
                json_response(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"not ready"}"#.to_owned())
            }
            "/readyz" => self.readiness().await,
            "/openapi.json" => match self.openapi.get() {
                Some(render) => json_response(StatusCode::OK, render()),
                None => json_response(StatusCode::SERVICE_UNAVAILABLE, json_error("Routes are not loaded yet")),
            },
            _ => json_response(StatusCode::OK, r#"{"status":"alive"}"#.to_owned()),
        }
    }
}

impl Admin {
    /// `200` with `"ready"`, or `"degraded"`, and the state of each store
    /// and database.
    async fn readiness(&self) -> AdminResponse {
        let stores = match self.stores.get() {
            Some(stores) => stores.health().await.into_iter().map(|h| (h.name, h.kind, h.error)).collect(),
            None => Vec::new(),
        };
        let databases = match self.databases.get() {
            Some(databases) => databases.health().await.into_iter().map(|h| (h.name, h.kind, h.error)).collect(),
            None => Vec::new(),
        };
        let degraded = stores.iter().chain(&databases).any(|(_, _, error)| error.is_some());
        let mut body = serde_json::json!({ "status": if degraded { "degraded" } else { "ready" } });
        for (key, states) in [("stores", stores), ("databases", databases)] {
            if !states.is_empty() {
                body[key] = states_json(states);
            }
        }
        json_response(StatusCode::OK, body.to_string())
    }
}

/// `{ NAME: { "type": …, "ok": …, "error"?: … } }`.
fn states_json(states: Vec<(String, &'static str, Option<String>)>) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = states
        .into_iter()
        .map(|(name, kind, error)| {
            let state = match error {
                None => serde_json::json!({ "type": kind, "ok": true }),
                Some(error) => serde_json::json!({ "type": kind, "ok": false, "error": error }),
            };
            (name, state)
        })
        .collect();
    serde_json::Value::Object(map)
}

fn json_error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Serves the admin endpoints on `listener` from a thread of their own, and
/// runs the metrics exporter's upkeep there, until the process exits.
pub fn spawn(listener: std::net::TcpListener, admin: Arc<Admin>) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("wasmroutes-admin".into()).spawn(move || {
        runtime.block_on(async move {
            crate::observability::spawn_upkeep(admin.metrics.clone());
            match TcpListener::from_std(listener) {
                Ok(listener) => serve(listener, admin).await,
                Err(e) => tracing::error!("admin endpoints unavailable: {e}"),
            }
        });
    })?;
    Ok(())
}

async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("admin: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let admin = Arc::clone(&admin);
        let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let admin = Arc::clone(&admin);
            async move { Ok::<_, Infallible>(admin.respond(req.method(), req.uri().path()).await) }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("admin connection ended with error: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Admin {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || metrics::counter!("wasmroutes_test_total").increment(3));
        Admin::new(handle)
    }

    fn call(admin: &Admin, method: &Method, path: &str) -> AdminResponse {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(admin.respond(method, path))
    }

    fn body(resp: AdminResponse) -> String {
        use http_body_util::BodyExt as _;
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let bytes = rt.block_on(resp.into_body().collect()).expect("body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn readyz_is_503_until_ready_and_healthz_is_always_200() {
        let admin = admin();
        assert_eq!(call(&admin, &Method::GET, "/healthz").status(), 200);
        assert_eq!(call(&admin, &Method::GET, "/readyz").status(), 503);
        admin.set_ready(true);
        assert_eq!(call(&admin, &Method::GET, "/readyz").status(), 200);
        admin.set_ready(false);
        assert_eq!(call(&admin, &Method::HEAD, "/readyz").status(), 503);
    }

    #[test]
    fn metrics_render_in_prometheus_text_format() {
        let resp = call(&admin(), &Method::GET, "/metrics");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], METRICS_CONTENT_TYPE);
        let text = body(resp);
        assert!(text.contains("wasmroutes_test_total 3"), "{text}");
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405_in_json() {
        let admin = admin();
        let resp = call(&admin, &Method::GET, "/nope");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let resp = call(&admin, &Method::POST, "/metrics");
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD");
    }
}
