// `next/headers` for route files: `headers()` and `cookies()` read the
// request being handled (one at a time per instance). As in Next.js 15 they
// return Promises; like Next.js, the result also answers synchronously
// (`headers().get(...)`), which Next.js 14 code does.
import { currentRequest } from './shim.js'

function promiseAnd(value, methods) {
  return Object.assign(Promise.resolve(value), methods)
}

export function headers() {
  const h = currentRequest().headers
  return promiseAnd(h, {
    get: (name) => h.get(name),
    has: (name) => h.has(name),
    entries: () => h.entries(),
    keys: () => h.keys(),
    values: () => h.values(),
    forEach: (callback) => h.forEach(callback),
  })
}

function parseCookies(header) {
  const jar = new Map()
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!name || jar.has(name)) continue
    let value = part.slice(eq + 1).trim()
    try {
      value = decodeURIComponent(value)
    } catch {
      // Not percent-encoded text: kept as sent, like Next.js.
    }
    jar.set(name, { name, value })
  }
  return jar
}

export function cookies() {
  const jar = parseCookies(currentRequest().headers.get('cookie'))
  const store = {
    get: (name) => jar.get(typeof name === 'object' ? name.name : name),
    getAll: (name) => (name === undefined ? [...jar.values()] : [...jar.values()].filter((c) => c.name === name)),
    has: (name) => jar.has(name),
    get size() {
      return jar.size
    },
    set() {
      throw new Error('cookies().set() is not supported on wasmroutes: set a `set-cookie` header on the Response')
    },
    delete() {
      throw new Error('cookies().delete() is not supported on wasmroutes: set a `set-cookie` header on the Response')
    },
  }
  return promiseAnd(store, store)
}
