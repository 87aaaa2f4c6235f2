//! `GET /api/hello` as a `wasi:http/proxy` component built the way one is
//! for `wasmtime serve` (the wasip2 crate's proxy export): the same status,
//! header and JSON as the hello sample, so `wasmtime serve` and a
//! wasmroutes route of this kind are rows of the same benchmark.

use std::io::Write as _;

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Hello);

struct Hello;

const BODY: &[u8] = br#"{"message":"Hello from API!"}"#;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("content-length".to_owned(), BODY.len().to_string().into_bytes()),
        ])
        .expect("valid header names and values");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        let mut stream = body.write().expect("the stream is taken once");
        stream.write_all(BODY).expect("the client reads the body");
        drop(stream);
        OutgoingBody::finish(body, None).expect("the body is as long as declared");
    }
}
