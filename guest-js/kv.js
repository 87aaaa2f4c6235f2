// `@wasmroutes/kv`: the key-value stores a route lists in `key_value_stores`,
// over the host's wasi:keyvalue (a route may also import
// `wasi:keyvalue/store@0.2.0-draft2` itself). Values are bytes; `getJson`
// and `setJson` store JSON text, as the Rust SDK's get_json/set_json do, so
// JS and Rust routes can share data.
import { open } from 'wasi:keyvalue/store@0.2.0-draft2'
import { Cas, increment, swap } from 'wasi:keyvalue/atomics@0.2.0-draft2'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/// A store operation that failed: `code` is `no-such-store`,
/// `access-denied`, `unavailable`, `limit`, `invalid` or `error`.
/// Thrown out of a handler it becomes the answer the Rust SDK gives
/// (shim.js): 503 with Retry-After for `unavailable`, 413 for `limit`,
/// otherwise the 500 envelope, with the details in the log.
export class KvError extends Error {
  constructor(store, payload) {
    const code = payload?.tag === 'other' ? (String(payload.val).split(': ')[0] ?? 'error') : payload?.tag ?? 'error'
    const detail = payload?.tag === 'other' ? String(payload.val) : code
    super(`key-value store \`${store}\`: ${detail}`)
    this.name = 'KvError'
    this.code = ['unavailable', 'limit', 'invalid', 'error', 'no-such-store', 'access-denied'].includes(code)
      ? code
      : 'error'
  }
}

function call(store, operation) {
  try {
    return operation()
  } catch (error) {
    // A `result` error from the host arrives as a ComponentError with the
    // WIT error variant as its payload.
    if (error && 'payload' in error) throw new KvError(store, error.payload)
    throw error
  }
}

function bytes(value) {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return encoder.encode(value)
  throw new TypeError('a value is a string or a Uint8Array; use setJson for other values')
}

/// Opens store `name` (`default` unless given).
export function openStore(name = 'default') {
  const bucket = call(name, () => open(name))
  return {
    /// The value's bytes, or undefined.
    get: (key) => call(name, () => bucket.get(key)),
    /// The value as UTF-8 text, or undefined.
    getText(key) {
      const value = this.get(key)
      return value === undefined ? undefined : decoder.decode(value)
    },
    /// The value parsed as JSON, or undefined.
    getJson(key) {
      const text = this.getText(key)
      return text === undefined ? undefined : JSON.parse(text)
    },
    set: (key, value) => call(name, () => bucket.set(key, bytes(value))),
    setJson: (key, value) => call(name, () => bucket.set(key, encoder.encode(JSON.stringify(value)))),
    delete: (key) => call(name, () => bucket.delete(key)),
    exists: (key) => call(name, () => bucket.exists(key)),
    /// One page of keys in order: `{ keys, cursor }`; pass `cursor` back for the next.
    keys: (cursor) => call(name, () => bucket.listKeys(cursor ?? undefined)),
    /// Replaces the JSON value at `key` with `change(old)` (old is undefined
    /// when absent; return undefined to leave it as is) by compare-and-swap,
    /// retrying when another request changed it meanwhile. Returns the value
    /// now stored.
    updateJson(key, change) {
      for (let attempt = 0; attempt < 16; attempt++) {
        const cas = call(name, () => Cas.new(bucket, key))
        const current = call(name, () => cas.current())
        const old = current === undefined ? undefined : JSON.parse(decoder.decode(current))
        const updated = change(old)
        if (updated === undefined) return old
        try {
          swap(cas, encoder.encode(JSON.stringify(updated)))
          return updated
        } catch (error) {
          if (error?.payload?.tag === 'cas-failed') continue
          if (error?.payload?.tag === 'store-error') throw new KvError(name, error.payload.val)
          throw error
        }
      }
      throw new KvError(name, { tag: 'other', val: `error: ${key} kept changing; gave up after 16 attempts` })
    },
    /// Adds `delta` (default 1) to the number stored at `key` (0 if absent), atomically.
    increment(key, delta = 1) {
      const total = call(name, () => increment(bucket, key, BigInt(delta)))
      return Number.isSafeInteger(Number(total)) ? Number(total) : total
    },
  }
}
