// GET /api/clock?count=&interval_ms=: server-sent events from a
// ReadableStream, the pattern of Next.js's route-handler docs. `count`
// `tick` events, one every `interval_ms`, each sent the moment it happens
// (`curl -N localhost:3000/api/clock`); the Rust sample-routes/clock, byte
// for byte.
//
// A browser's EventSource that lost the stream reconnects with the last id
// it saw in Last-Event-ID: the clock goes on after that tick, and answers
// 204 (which stops the reconnecting) once every tick was sent.

const COUNTS = [1, 1000];
const INTERVALS_MS = [10, 10_000];

class BadRequest extends Error {}

// Missing or empty: `fallback`; otherwise digits only, within `[min, max]`.
function param(raw, name, fallback, [min, max]) {
  if (raw === null || raw === '') return fallback;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (value >= min && value <= max) return value;
  throw new BadRequest(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
}

// The tick after the one the client saw last; an id the clock did not send
// is a fresh start.
function firstTick(lastEventId) {
  if (lastEventId === null || !/^\+?[0-9]+$/.test(lastEventId)) return 1;
  const last = Number(lastEventId.replace('+', ''));
  return last < 2 ** 32 ? last + 1 : 1;
}

export async function GET(request) {
  const query = new URL(request.url).searchParams;
  let count;
  let intervalMs;
  try {
    count = param(query.get('count'), 'count', 10, COUNTS);
    intervalMs = param(query.get('interval_ms'), 'interval_ms', 100, INTERVALS_MS);
  } catch (error) {
    if (error instanceof BadRequest) return Response.json({ error: error.message }, { status: 400 });
    throw error;
  }
  const first = firstTick(request.headers.get('last-event-id'));
  if (first > count) return new Response(null, { status: 204 });

  const encoder = new TextEncoder();
  let timer;
  const stream = new ReadableStream({
    start(controller) {
      let tick = first;
      const send = () => {
        const data = JSON.stringify({ tick, of: count });
        controller.enqueue(encoder.encode(`event: tick\nid: ${tick}\ndata: ${data}\n\n`));
        if (tick === count) {
          controller.close();
        } else {
          tick += 1;
          timer = setTimeout(send, intervalMs);
        }
      };
      send();
    },
    // The client went away.
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      // nginx and other proxies would otherwise hold the events back.
      'x-accel-buffering': 'no',
    },
  });
}
