// Which answers stream: a `Response` made from a `ReadableStream` (one the
// route built, a `TransformStream`'s or `TextEncoderStream`'s readable side,
// `ReadableStream.from(asyncIterable)`) is sent as it is produced; any other
// body (a string, JSON, bytes, `null`) is sent whole, with its length, as
// before. The engine's `Response` cannot tell the two apart afterwards (its
// `body` is a stream either way), so construction is watched here. This
// module is evaluated before the route's own, so `class … extends Response`
// (NextResponse too) extends the watched constructor.

const streamed = new WeakSet();
const EngineResponse = globalThis.Response;

globalThis.Response = new Proxy(EngineResponse, {
  construct(target, args, newTarget) {
    const response = Reflect.construct(target, args, newTarget === globalThis.Response ? target : newTarget);
    if (args[0] instanceof ReadableStream) streamed.add(response);
    return response;
  },
});

/// Whether `response`'s body is a stream to send as it is produced.
export function isStreamed(response) {
  return streamed.has(response);
}

// `TextEncoderStream`, which the engine lacks: strings in, UTF-8 out, as the
// Encoding standard has it (a high surrogate that ends one chunk waits for
// the next; one left at the end is U+FFFD).
if (typeof globalThis.TextEncoderStream === 'undefined') {
  const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);
  globalThis.TextEncoderStream = class TextEncoderStream {
    #transform;

    constructor() {
      const encoder = new TextEncoder();
      let pending = '';
      this.#transform = new TransformStream({
        transform(chunk, controller) {
          let text = pending + String(chunk);
          pending = '';
          const last = text.charCodeAt(text.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) {
            pending = text.slice(-1);
            text = text.slice(0, -1);
          }
          if (text) controller.enqueue(encoder.encode(text));
        },
        flush(controller) {
          if (pending) controller.enqueue(REPLACEMENT);
        },
      });
    }

    get encoding() {
      return 'utf-8';
    }

    get readable() {
      return this.#transform.readable;
    }

    get writable() {
      return this.#transform.writable;
    }
  };
}

// `ReadableStream.from(iterable)`, which the engine lacks: each value an
// async (or sync) iterable yields becomes a chunk when it is pulled, and
// cancelling the stream returns the iterator (a generator's `finally` runs).
if (typeof ReadableStream.from !== 'function') {
  ReadableStream.from = function from(iterable) {
    const iterator = iterable[Symbol.asyncIterator] ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(await value);
      },
      async cancel(reason) {
        await iterator.return?.(reason);
      },
    });
  };
}
