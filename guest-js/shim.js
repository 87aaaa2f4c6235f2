// The adapter between a wasmroutes handler export and a Next.js App Router
// route handler: the WIT `request` record becomes a Web `Request` plus
// Next.js's `{ params }`, the handler's `Response` becomes the WIT `response`
// record. `Request`, `Response`, `Headers`, `URL` and `fetch` are the
// engine's own (StarlingMonkey); this file adds only what Next.js has and a
// WebAssembly component does not.
import { getEnvironment } from 'wasi:cli/environment@0.2.3';
import { BodyWriter, Responder } from 'wasmroutes:api/types@0.2.0';

import { isStreamed } from './streams.js';

// `process.env`: the route's `env`, nothing else (the host gives a guest no
// other variables). Read on first use: at build time the module is
// initialized with no environment at all.
let environment;
globalThis.process ??= {
  get env() {
    environment ??= Object.freeze(Object.fromEntries(getEnvironment()));
    return environment;
  },
  nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
};

// `text()` and `json()` of a Request or Response (a route may read a
// fetch() response too) decode the body as the Fetch standard says ("UTF-8
// decode"), as Next.js on Node does: a leading byte-order mark is dropped
// and invalid bytes become U+FFFD. The engine's own keep the mark (so
// `json()` of a body a Windows tool wrote throws) and reject invalid bytes.
// Both read the body through the engine's `arrayBuffer()`, so a body is
// still read once (then bodyUsed is true and another read a TypeError), and
// `json()` of an empty or malformed body is still a SyntaxError.
const utf8 = new TextDecoder('utf-8');
for (const Body of [Request, Response]) {
  const { arrayBuffer } = Body.prototype;
  const decoding = {
    async text() {
      return utf8.decode(await arrayBuffer.call(this));
    },
    async json() {
      return JSON.parse(utf8.decode(await arrayBuffer.call(this)));
    },
  };
  for (const [name, value] of Object.entries(decoding)) {
    Object.defineProperty(Body.prototype, name, { ...Object.getOwnPropertyDescriptor(Body.prototype, name), value });
  }
}

function envelope(status, message, headers = []) {
  return {
    status,
    headers: [['content-type', 'application/json'], ...headers],
    body: new TextEncoder().encode(JSON.stringify({ error: message })),
  };
}

// What the kind of a constraint that refused a change is called in a 409.
const CONSTRAINTS = {
  unique: 'a unique constraint',
  'foreign-key': 'a foreign key constraint',
  'not-null': 'a not-null constraint',
  check: 'a check constraint',
};

// What a handler's uncaught error becomes: the JSON envelope the host and
// the Rust SDK answer with, the details on stderr (the host logs them with
// the request id). A key-value store error (`@wasmroutes/kv`) or a SQL
// error (`@wasmroutes/sql`) gets the answer the Rust SDK gives it: a store
// or database that is down is a 503 to retry. Recognised by name, so that
// this file imports neither (a route that uses no database must not import
// its interface).
function failure(error) {
  console.error(`route handler failed: ${error && error.stack ? `${error}\n${error.stack}` : error}`);
  if (error && error.name === 'KvError') {
    if (error.code === 'unavailable') {
      return envelope(503, 'Storage is temporarily unavailable; try again shortly', [['retry-after', '1']]);
    }
    if (error.code === 'limit') return envelope(413, 'Too large to store');
  }
  if (error && error.name === 'SqlError') return sqlFailure(error);
  return envelope(500, 'Internal server error');
}

function sqlFailure(error) {
  switch (error.code) {
    case 'no-such-database':
      console.error(
        `@wasmroutes/sql: deployment error: no database \`${error.database}\` is configured on this host; ` +
          `configure it in routes.toml ([database.${error.database}]) and list it in this route's \`databases\``,
      );
      break;
    case 'access-denied':
      console.error(
        `@wasmroutes/sql: deployment error: this route may not open database \`${error.database}\`; ` +
          'the route must list it in `databases` in routes.toml',
      );
      break;
    case 'constraint':
      return envelope(409, `Conflict: ${CONSTRAINTS[error.constraint] ?? 'a constraint'} refused the change`);
    case 'unavailable':
      return envelope(503, 'Storage is temporarily unavailable; try again shortly', [['retry-after', '1']]);
    case 'timeout':
      return envelope(504, 'The database took too long to answer');
  }
  return envelope(500, 'Internal server error');
}

// The request being handled, for `next/headers`. An instance handles one
// request at a time, so one slot is enough.
let current;

/// The request being handled; `headers()` and `cookies()` read it.
export function currentRequest() {
  if (!current) throw new Error('headers() and cookies() work only while a request is being handled');
  return current;
}

function toRequest(req, signal) {
  const headers = new Headers();
  for (const [name, value] of req.headers) headers.append(name, value);
  const host = headers.get('host') || 'localhost';
  const query = req.query.length ? `?${new URLSearchParams(req.query)}` : '';
  const method = req.method.toUpperCase();
  const init = { method, headers };
  if (signal) init.signal = signal;
  if (method !== 'GET' && method !== 'HEAD' && req.body.length) init.body = req.body;
  const request = new Request(`http://${host}${req.path}${query}`, init);
  // Next.js's NextRequest has `nextUrl`; its searchParams are what most
  // route handlers read.
  Object.defineProperty(request, 'nextUrl', { value: new URL(request.url) });
  return request;
}

// Next.js 15 gives `params` as a Promise; Next.js 14 code reads it directly.
// Both work: a resolved Promise that also carries the keys. A catch-all is
// an array, and an optional catch-all that matched nothing is absent.
function toParams(req) {
  const params = {};
  for (const [name, value] of req.params) {
    if (value.tag === 'single') params[name] = value.val;
    else if (value.val.length) params[name] = value.val;
  }
  return Object.assign(Promise.resolve(params), params);
}

async function toRecord(response) {
  if (!(response instanceof Response)) {
    throw new TypeError(`the route handler returned ${typeof response}, not a Response`);
  }
  const headers = [];
  for (const [name, value] of response.headers) headers.push([name, value]);
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}

// Why a write to the client failed: the host's `stream-error`.
function streamError(error) {
  const payload = error && error.payload;
  if (!payload || typeof payload.tag !== 'string') return undefined;
  return payload.val ? `${payload.tag}: ${payload.val}` : payload.tag;
}

// Sends a streamed `response`: the head now, then each chunk as its stream
// produces it. When the client goes away (or a stream limit passes) the
// write fails: the request's signal aborts and the stream is cancelled, so
// the route's `cancel()` and abort listeners can stop their work. A stream
// that errors ends the answer cut off (the exception traps the instance),
// as Next.js aborts the response.
async function pump(response, res, controller) {
  const headers = [];
  for (const [name, value] of response.headers) headers.push([name, value]);
  let writer;
  try {
    writer = Responder.start(res, response.status, headers);
  } catch (error) {
    // An invalid status or header: the host answers 500 and logs why.
    if (streamError(error) === undefined) throw error;
    return;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`a streamed Response body yielded ${typeof value}, not a Uint8Array (use TextEncoder or TextEncoderStream)`);
    }
    try {
      writer.write(value);
    } catch (error) {
      const why = streamError(error);
      if (why === undefined) throw error;
      controller.abort(new DOMException(`the client went away or a stream limit passed (${why})`, 'AbortError'));
      await reader.cancel(why).catch(() => {});
      return;
    }
  }
  BodyWriter.finish(writer);
}

/// One handler export: `{ handle(req) }`, as componentize-js expects for an
/// exported interface. An async handler is awaited (componentize-js runs the
/// event loop until the export's promise settles); a throw or a rejection
/// is a 500, like a panic in a Rust route. For `HEAD` and `OPTIONS`, which
/// never stream.
export function adapt(handler) {
  return {
    async handle(req) {
      try {
        current = toRequest(req);
        return await toRecord(await handler(current, { params: toParams(req) }));
      } catch (error) {
        return failure(error);
      } finally {
        current = undefined;
      }
    },
  };
}

/// One streaming handler export: `{ handle(req, res) }`. A `Response` made
/// from a `ReadableStream` streams through `res`; any other is sent whole
/// (`Responder.send`), exactly as `adapt` would answer it.
export function adaptStreaming(handler) {
  return {
    async handle(req, res) {
      const controller = new AbortController();
      let response;
      let whole;
      try {
        current = toRequest(req, controller.signal);
        response = await handler(current, { params: toParams(req) });
        if (!isStreamed(response)) whole = await toRecord(response);
      } catch (error) {
        whole = failure(error);
      } finally {
        current = undefined;
      }
      if (whole) {
        try {
          Responder.send(res, whole);
        } catch (error) {
          // An invalid status or header: the host answers 500 and logs why.
          if (streamError(error) === undefined) throw error;
        }
        return;
      }
      try {
        await pump(response, res, controller);
      } catch (error) {
        // After the head: nothing to answer with but a cut stream.
        console.error(`streamed response failed: ${error && error.stack ? `${error}\n${error.stack}` : error}`);
        throw error;
      }
    },
  };
}
