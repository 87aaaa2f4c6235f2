// @wasmroutes/sql through a real component, for tests/e2e/js_sql.rs: one
// route, `/api/sql/[op]`, each op a case. The database `default` has
// `items (id integer primary key, v)` (no type, so SQLite keeps each value
// as given) and `names (id integer primary key, name text not null unique
// check (name <> ''))`.
import { sql, db, transaction, SqlError } from '@wasmroutes/sql'

// A value as JSON can show it: its JavaScript type and its value.
function describe(value) {
  if (value === null) return { type: 'null' }
  if (value instanceof Uint8Array) return { type: 'Uint8Array', value: [...value] }
  if (typeof value === 'bigint') return { type: 'bigint', value: String(value) }
  return { type: typeof value, value }
}

function caught(error) {
  return {
    name: error.name,
    isSqlError: error instanceof SqlError,
    code: error.code ?? null,
    constraint: error.constraint ?? null,
    database: error.database ?? null,
    message: error.message,
  }
}

async function attempt(work) {
  try {
    return { ok: describe(await work()) }
  } catch (error) {
    return { error: caught(error) }
  }
}

const PARAMETERS = {
  integer: 42,
  negative: -7,
  real: 2.5,
  unsafeNumber: 2 ** 53,
  bigint: 2n ** 60n + 1n,
  minInteger: -(2n ** 63n),
  maxInteger: 2n ** 63n - 1n,
  text: 'héllo 😀',
  empty: '',
  boolean: true,
  null: null,
  undefined: undefined,
  bytes: new Uint8Array([0, 255, 1]),
  arrayBuffer: new Uint8Array([7, 8]).buffer,
  date: new Date(Date.UTC(2026, 11, 7, 3, 4, 5, 678)),
  object: { a: [1, 'x'], b: null },
  array: [1, 2],
}

const OPS = {
  // Each parameter stored and read back, with the type SQLite stored.
  async roundtrip() {
    const out = {}
    for (const [name, value] of Object.entries(PARAMETERS)) {
      const { rows } = await sql`insert into items (v) values (${value}) returning id`
      const back = await sql`select v, typeof(v) as stored from items where id = ${rows[0].id}`
      out[name] = { stored: back.rows[0].stored, back: describe(back.rows[0].v) }
    }
    // Read straight from a select, no table: the host's integer edges.
    const { rows, columns } = await sql`select 9007199254740991 as safe, 9007199254740993 as big, x'cafe' as blob, 0.5 as half`
    out.select = { columns, row: Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, describe(v)])) }
    out.tooBig = await attempt(() => sql`select ${2n ** 63n}`)
    out.symbol = await attempt(() => sql`select ${Symbol('s')}`)
    return out
  },

  // rowCount and lastInsertId of changes; rows of `returning`.
  async changes() {
    const first = await sql`insert into names (name) values (${'a'})`
    const second = await db('default').execute('insert into names (name) values ($1), ($2)', ['b', 'c'])
    const updated = await sql`update names set name = name || '!' where name in (${'a'}, ${'b'})`
    const withDelete = await sql`with gone as (select id from names where name = ${'c'}) delete from names where id in (select id from gone)`
    const returned = await sql`update names set name = upper(name) where name like ${'%!'} returning id, name`
    const queried = await db('default').query('select count(*) as n from names where name <> $1', ['x'])
    return {
      first: { rowCount: first.rowCount, lastInsertId: first.lastInsertId, rows: first.rows },
      second: { rowCount: second.rowCount, lastInsertId: second.lastInsertId },
      updated: updated.rowCount,
      withDelete: withDelete.rowCount,
      returned: { rowCount: returned.rowCount, rows: returned.rows, columns: returned.columns },
      queried: queried.rows,
    }
  },

  // A transaction that commits, one that throws (rolled back, the error
  // rethrown), and its handle used after it ended.
  async transactions() {
    let handle
    const committed = await transaction(async (tx) => {
      await tx.sql`insert into names (name) values (${'kept'})`
      await tx.sql`insert into names (name) values (${'kept too'})`
      return 'done'
    })
    const thrown = await attempt(() =>
      db('default').transaction(async (tx) => {
        handle = tx
        await tx.sql`insert into names (name) values (${'undone'})`
        throw new Error('changed my mind')
      }),
    )
    // A constraint in the middle: the first insert goes with it.
    const refused = await attempt(() =>
      transaction(async (tx) => {
        await tx.sql`insert into names (name) values (${'also undone'})`
        await tx.sql`insert into names (name) values (${'kept'})`
      }),
    )
    const after = await attempt(() => handle.sql`select 1`)
    const { rows } = await sql`select name from names order by id`
    return { committed, thrown, refused, after, names: rows.map((r) => r.name) }
  },

  // Each error case, caught.
  async errors() {
    return {
      invalid: await attempt(() => sql`select nope from names`),
      unique: await attempt(async () => {
        await sql`insert into names (name) values (${'twice'})`
        await sql`insert into names (name) values (${'twice'})`
      }),
      notNull: await attempt(() => sql`insert into names (name) values (${null})`),
      check: await attempt(() => sql`insert into names (name) values (${''})`),
      denied: await attempt(() => db('other').sql`select 1`),
      timeout: await attempt(
        () => sql`with recursive c(i) as (select 1 union all select i + 1 from c) select count(*) from c`,
      ),
      schema: await attempt(() => sql`drop table names`),
      notATag: await attempt(() => sql('select 1')),
    }
  },
}

// Uncaught, for the shim's statuses.
const THROWS = {
  unique: async () => {
    await sql`insert into names (name) values (${'dup'})`
    await sql`insert into names (name) values (${'dup'})`
  },
  check: () => sql`insert into names (name) values (${''})`,
  timeout: () => sql`with recursive c(i) as (select 1 union all select i + 1 from c) select count(*) from c`,
  denied: () => db('other').sql`select 1`,
  invalid: () => sql`select nope from names`,
  write: () => sql`insert into names (name) values (${'waited'})`,
}

export async function GET(request, { params }) {
  const { op } = await params
  if (Object.hasOwn(OPS, op)) return Response.json(await OPS[op]())
  if (Object.hasOwn(THROWS, op)) {
    await THROWS[op]()
    return Response.json({ unexpectedly: 'no error' })
  }
  return Response.json({ error: `no op ${op}` }, { status: 404 })
}

// Holds the writer in a transaction for `ms` milliseconds, so that a
// write of another request waits past the busy timeout (503).
export async function POST(request, { params }) {
  const ms = Number(new URL(request.url).searchParams.get('ms') ?? '0')
  await transaction(async (tx) => {
    await tx.sql`insert into names (name) values (${(await params).op})`
    await new Promise((resolve) => setTimeout(resolve, ms))
  })
  return Response.json({ held: ms })
}
