// `@wasmroutes/sql`: the SQL databases a route lists in `databases`, over
// the host's `wasmroutes:sql/types@0.1.0` (wit/deps/sql/sql.wit).
//
//   import { sql, db, transaction, SqlError } from '@wasmroutes/sql'
//   const { rows } = await sql`select * from notes where id = ${id}`
//
// The `sql` tag is the one Next.js authors know from `@vercel/postgres`:
// the interpolations become parameters `$1`, `$2`…, never text.
import { Connection } from 'wasmroutes:sql/types@0.1.0'

const CODES = [
  'no-such-database',
  'access-denied',
  'invalid-statement',
  'constraint',
  'unavailable',
  'timeout',
  'limit-exceeded',
  'internal',
]
const MIN_INTEGER = -(2n ** 63n)
const MAX_INTEGER = 2n ** 63n - 1n

/// A database call that failed. `code` is the WIT error case
/// (`no-such-database`, `access-denied`, `invalid-statement`, `constraint`,
/// `unavailable`, `timeout`, `limit-exceeded`, `internal`); `constraint` is
/// the kind (`unique`, `foreign-key`, `not-null`, `check`, `other`) when
/// `code` is `constraint`; `database` names the database; the message is
/// the database's. Thrown out of a handler it becomes the answer the Rust
/// SDK gives (shim.js): 409 for a constraint, 503 with Retry-After for
/// `unavailable`, 504 for `timeout`, otherwise the 500 envelope, with the
/// details in the log.
export class SqlError extends Error {
  constructor(code, message, { database, constraint } = {}) {
    super(message)
    this.name = 'SqlError'
    this.code = CODES.includes(code) ? code : 'internal'
    this.constraint = this.code === 'constraint' ? constraint ?? 'other' : undefined
    this.database = database
  }
}

// The host's `error` variant as a SqlError.
function fromHost(database, payload) {
  switch (payload?.tag) {
    case 'no-such-database':
      return new SqlError(payload.tag, `no database \`${payload.val}\` is configured on this host`, { database })
    case 'access-denied':
      return new SqlError(
        payload.tag,
        `the route may not open database \`${payload.val}\`: list it in the route's \`databases\``,
        { database },
      )
    case 'constraint':
      return new SqlError(payload.tag, payload.val.message, { database, constraint: payload.val.kind })
    default:
      return new SqlError(payload?.tag, String(payload?.val ?? payload), { database })
  }
}

function call(database, operation) {
  try {
    return operation()
  } catch (error) {
    // A `result` error from the host arrives as a ComponentError with the
    // WIT error variant as its payload.
    if (error && typeof error === 'object' && 'payload' in error) throw fromHost(database, error.payload)
    throw error
  }
}

/// A JavaScript value as a statement parameter.
function toValue(value) {
  switch (typeof value) {
    case 'number':
      // 3 and 3.0 are one number in JavaScript: a whole number is an integer
      // while it is exact, so ids and counts compare as integers in SQL.
      return Number.isSafeInteger(value) ? { tag: 'integer', val: BigInt(value) } : { tag: 'real', val: value }
    case 'bigint':
      if (value < MIN_INTEGER || value > MAX_INTEGER) {
        throw new RangeError(`${value} does not fit a SQL integer (64 bits, signed)`)
      }
      return { tag: 'integer', val: value }
    case 'string':
      return { tag: 'text', val: value }
    case 'boolean':
      return { tag: 'boolean', val: value }
    case 'undefined':
      return { tag: 'null' }
    case 'object': {
      if (value === null) return { tag: 'null' }
      if (value instanceof Uint8Array) return { tag: 'blob', val: value }
      if (value instanceof ArrayBuffer) return { tag: 'blob', val: new Uint8Array(value) }
      if (ArrayBuffer.isView(value)) {
        return { tag: 'blob', val: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) }
      }
      if (value instanceof Date) return { tag: 'text', val: value.toISOString() }
      const json = JSON.stringify(value)
      if (json === undefined) throw new TypeError('a parameter that JSON.stringify turns into nothing')
      return { tag: 'text', val: json }
    }
    default:
      throw new TypeError(`a ${typeof value} cannot be a SQL parameter`)
  }
}

// An integer from the host (a BigInt): a Number while that is exact.
function integer(value) {
  const number = Number(value)
  return Number.isSafeInteger(number) ? number : value
}

/// A column value as JavaScript.
function fromValue(value) {
  switch (value.tag) {
    case 'integer':
      return integer(value.val)
    case 'blob':
      return value.val instanceof Uint8Array ? value.val : Uint8Array.from(value.val)
    case 'null':
      return null
    default:
      return value.val
  }
}

/// Whether `text` returns rows, so goes to the host's `query` (rows) rather
/// than `execute` (rows affected); `execute` refuses a statement that
/// returns rows, and `query` of a change would report no count.
///
/// Judged from its words outside literals, quoted names and comments:
/// - `select`, `values`, `table`, `explain`, `pragma`, `show` return rows;
/// - `insert`, `update`, `delete`, `replace`, `merge` return rows only with
///   a `returning` clause (at the statement's own level, not in parentheses);
/// - `with …` is judged by the statement after its common table
///   expressions (the first of those words outside parentheses), so
///   `with x as (…) delete from t` is a change and `with x as (…) select`
///   a query; when none is found it is taken for a query;
/// - anything else (there is little else a request may run) is a change.
///
/// An unquoted column named `returning` would fool this; `db().query()` and
/// `db().execute()` say which outright.
function returnsRows(text) {
  const words = topLevelWords(text)
  if (words.length === 0) return false
  let verb = words[0].word
  if (verb === 'with') {
    verb = words.find((w, i) => i > 0 && w.depth === 0 && VERBS.has(w.word))?.word ?? 'select'
  }
  if (QUERIES.has(verb)) return true
  if (CHANGES.has(verb)) return words.some((w) => w.depth === 0 && w.word === 'returning')
  return false
}

const QUERIES = new Set(['select', 'values', 'table', 'explain', 'pragma', 'show'])
const CHANGES = new Set(['insert', 'update', 'delete', 'replace', 'merge'])
const VERBS = new Set([...QUERIES, ...CHANGES])

// The words of `text`, lower-cased, with their depth in parentheses; the
// first word is taken at any depth, so `(select …) union …` is a select.
function topLevelWords(text) {
  const words = []
  let depth = 0
  let i = 0
  const n = text.length
  const after = (pattern) => {
    pattern.lastIndex = i
    return pattern.exec(text)?.[0]
  }
  while (i < n) {
    const c = text[i]
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i)
      i = end < 0 ? n : end + 1
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
    } else if (c === "'" || c === '"' || c === '`') {
      // A doubled quote inside reads as two literals side by side, which
      // is all the same here; PostgreSQL's E'…' also escapes with a
      // backslash.
      const escapes = c === "'" && /[eE]/.test(text[i - 1] ?? '') && !/\w/.test(text[i - 2] ?? '')
      i++
      while (i < n && text[i] !== c) i += escapes && text[i] === '\\' ? 2 : 1
      i++
    } else if (c === '[') {
      const end = text.indexOf(']', i)
      i = end < 0 ? n : end + 1
    } else if (c === '$' && after(DOLLAR_TAG)) {
      // A PostgreSQL dollar-quoted literal, $$…$$ or $tag$…$tag$ ($1 is a
      // parameter).
      const tag = after(DOLLAR_TAG)
      const end = text.indexOf(tag, i + tag.length)
      i = end < 0 ? n : end + tag.length
    } else if (c === '(') {
      depth++
      i++
    } else if (c === ')') {
      depth = Math.max(0, depth - 1)
      i++
    } else if (/[A-Za-z_]/.test(c)) {
      const word = after(WORD)
      words.push({ word: word.toLowerCase(), depth: words.length === 0 ? 0 : depth })
      i += word.length
    } else {
      i++
    }
  }
  return words
}

const DOLLAR_TAG = /\$[A-Za-z_]*\$/y
const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y

// One connection per database, opened on first use and kept for the
// instance's life (a reused instance keeps it across requests). Every
// statement of the instance on that database goes through it, so while a
// transaction is open they all run in it.
const connections = new Map()

function connection(name) {
  let open = connections.get(name)
  if (!open) {
    open = call(name, () => Connection.open(name))
    connections.set(name, open)
  }
  return open
}

function query(name, text, params) {
  const result = call(name, () => connection(name).query(text, params.map(toValue)))
  const columns = result.columns
  const rows = result.rows.map((row) => Object.fromEntries(row.map((value, i) => [columns[i], fromValue(value)])))
  return { rows, rowCount: rows.length, columns }
}

function execute(name, text, params) {
  const done = call(name, () => connection(name).execute(text, params.map(toValue)))
  return {
    rows: [],
    rowCount: integer(done.rowsAffected),
    columns: [],
    lastInsertId: done.lastInsertId === undefined || done.lastInsertId === null ? null : integer(done.lastInsertId),
  }
}

/// The text of a tagged template's statement: its values become `$1`,
/// `$2`… in order (the values themselves go as parameters).
function statement(strings) {
  if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
    throw new TypeError(
      'sql is a template tag: write sql`select … where id = ${id}`, or call db(name).query(text, params)',
    )
  }
  let text = strings[0]
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`
  return text
}

// The statements of database `name`; `guard` throws once a transaction
// handle is used after its transaction ended.
function statements(name, guard = () => {}) {
  const run = (text, params) => {
    guard()
    return returnsRows(text) ? query(name, text, params) : execute(name, text, params)
  }
  return {
    /// Tagged template: `await tx.sql\`update notes set title = ${t} where id = ${id}\``.
    sql: async (strings, ...values) => run(statement(strings), values),
    /// A statement that returns rows: `{ rows, rowCount, columns }`.
    query: async (text, params = []) => {
      guard()
      return query(name, text, params)
    },
    /// A statement that changes data: `{ rowCount, lastInsertId, rows: [] }`.
    execute: async (text, params = []) => {
      guard()
      return execute(name, text, params)
    },
  }
}

/// Database `name`, which the route lists in `databases`: `sql`, `query`,
/// `execute` and `transaction`.
export function db(name) {
  if (typeof name !== 'string' || name === '') throw new TypeError('db(name): name a database of `databases`')
  return {
    ...statements(name),
    /// Runs `work(tx)` in a transaction: committed when the promise it
    /// returns resolves, rolled back when it throws or rejects (the error is
    /// thrown again). Returns what `work` returned.
    async transaction(work) {
      if (typeof work !== 'function') throw new TypeError('transaction(work): work is an async function of tx')
      const open = connection(name)
      call(name, () => open.begin())
      let ended = false
      const tx = statements(name, () => {
        if (ended) throw new Error(`the transaction on database \`${name}\` has ended; use db() or sql outside it`)
      })
      let result
      try {
        result = await work(tx)
      } catch (error) {
        ended = true
        try {
          open.rollback()
        } catch {
          // The host already ended it (a statement in it timed out) or
          // cannot reach the database; it rolls back whatever is left open
          // when the request ends. The route's own error is what matters.
        }
        throw error
      }
      ended = true
      call(name, () => open.commit())
      return result
    },
  }
}

const main = db('default')

/// Tagged template on database `default`:
/// ``const { rows, rowCount } = await sql`select * from notes where id = ${id}` ``.
/// A statement that returns rows (see `returnsRows`) answers
/// `{ rows, rowCount: rows.length, columns }`; a change
/// `{ rows: [], rowCount: rows affected, columns: [], lastInsertId }`.
export const sql = main.sql

/// `db('default').transaction`.
export const transaction = main.transaction
