// The ways a Next.js route handler builds a streamed Response, for
// tests/e2e/js_streaming.rs. `?kind=` picks one; `count` and `interval_ms`
// shape it.

const encoder = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Next.js docs' `iteratorToStream`: an async generator as a ReadableStream.
function iteratorToStream(iterator) {
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}

async function* chunks(count, intervalMs) {
  for (let i = 1; i <= count; i += 1) {
    if (i > 1) await sleep(intervalMs);
    yield encoder.encode(`chunk ${i}\n`);
  }
}

export async function GET(request) {
  const query = new URL(request.url).searchParams;
  const count = Number(query.get('count') ?? 3);
  const intervalMs = Number(query.get('interval_ms') ?? 50);
  switch (query.get('kind')) {
    case 'generator':
      return new Response(iteratorToStream(chunks(count, intervalMs)), {
        headers: { 'content-type': 'text/plain' },
      });
    case 'from':
      return new Response(ReadableStream.from(chunks(count, intervalMs)));
    case 'encoder': {
      // Strings through a TextEncoderStream.
      const { readable, writable } = new TextEncoderStream();
      (async () => {
        const writer = writable.getWriter();
        for (let i = 1; i <= count; i += 1) {
          if (i > 1) await sleep(intervalMs);
          await writer.write(`text ${i}\n`);
        }
        await writer.close();
      })();
      return new Response(readable, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    case 'error':
      // Two chunks, then the stream fails: the answer is cut off.
      return new Response(
        new ReadableStream({
          async pull(controller) {
            controller.enqueue(encoder.encode('before the error\n'));
            await sleep(20);
            controller.enqueue(encoder.encode('still before\n'));
            await sleep(20);
            controller.error(new Error('the data source failed'));
          },
        }),
      );
    case 'endless': {
      // Writes until the client goes away; says what it heard.
      request.signal.addEventListener('abort', () => console.log(`signal aborted: ${request.signal.reason}`));
      let timer;
      return new Response(
        new ReadableStream({
          start(controller) {
            let i = 0;
            timer = setInterval(() => controller.enqueue(encoder.encode(`tick ${(i += 1)}\n`)), intervalMs);
          },
          cancel(reason) {
            clearInterval(timer);
            console.log(`stream cancelled: ${reason}`);
          },
        }),
      );
    }
    default:
      return Response.json({ whole: true });
  }
}

// A streamed echo of the request body.
export async function POST(request) {
  const body = new Uint8Array(await request.arrayBuffer());
  return new Response(
    new ReadableStream({
      start(controller) {
        for (let at = 0; at < body.length; at += 65536) controller.enqueue(body.subarray(at, at + 65536));
        controller.close();
      },
    }),
    { status: 201 },
  );
}
