//! `GET /api/search?q=&limit=`: echo a query with a typed `limit`.

use serde::Serialize;
use wasmroutes_sdk::{Error, Request, Response, Result, route};

/// `limit` when the client gives none (or an empty one).
pub const DEFAULT_LIMIT: u64 = 10;

/// The search answer.
#[derive(Serialize)]
pub struct SearchResults<'a> {
    query: Option<&'a str>,
    limit: u64,
    results: [SearchHit; 1],
}

/// One result.
#[derive(Serialize)]
pub struct SearchHit {
    id: u32,
    name: String,
}

/// Parses `limit`: missing or empty means the default; otherwise digits only.
pub fn parse_limit(raw: Option<&str>) -> Result<u64> {
    match raw {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| Error::bad_request(format!("limit is too large: {s}")))
        }
        Some(s) => Err(Error::bad_request(format!("limit must be a non-negative integer, got {s:?}"))),
    }
}

/// The `/api/search` route.
pub struct Search;

#[route]
impl Search {
    /// Echoes `q` and `limit`.
    pub fn get(req: Request) -> Result {
        let query = req.query("q");
        let limit = parse_limit(req.query("limit"))?;
        // The tutorial interpolates a missing `q` into the string as `null`.
        let name = format!("Result for {}", query.unwrap_or("null"));
        Ok(Response::json(&SearchResults { query, limit, results: [SearchHit { id: 1, name }] }))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    fn search(pairs: &[(&str, &str)]) -> Result {
        let req = pairs.iter().fold(Request::builder(Method::Get, "/api/search"), |b, (k, v)| b.query(k, v));
        Search::get(req.build())
    }

    #[test]
    fn echoes_query_and_limit() {
        let resp = search(&[("q", "rust wasm"), ("limit", "5")]).unwrap();
        assert_eq!(
            resp.body_bytes(),
            br#"{"query":"rust wasm","limit":5,"results":[{"id":1,"name":"Result for rust wasm"}]}"#
        );
    }

    #[test]
    fn missing_query_is_null_and_limit_defaults() {
        let resp = search(&[]).unwrap();
        assert_eq!(resp.body_bytes(), br#"{"query":null,"limit":10,"results":[{"id":1,"name":"Result for null"}]}"#);
        assert_eq!(search(&[("limit", "")]).unwrap().json_body().unwrap()["limit"], 10);
    }

    #[test]
    fn bad_limit_is_a_400() {
        for bad in ["-1", "abc", "1.5", "+3", " 3", "99999999999999999999999"] {
            assert_eq!(search(&[("limit", bad)]).unwrap_err().status(), 400, "limit={bad}");
        }
    }
}
