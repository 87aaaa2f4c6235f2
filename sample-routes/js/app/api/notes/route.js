// /api/notes — GET a page of notes (search, sort, cursor), POST a note.
// The notes live in the SQL database `default` (migrations in
// sample-routes/migrations/notes); the Rust samples notes and notes-id
// answer the same requests with the same bytes.
import { sql, db } from '@wasmroutes/sql'

import { NOTE_COLUMNS, TITLE_TAKEN, error, note, readChanges, titleTaken } from '../../../lib/notes.js'

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 100
const SORTS = {
  newest: { order: 'id desc', after: 'id <' },
  oldest: { order: 'id asc', after: 'id >' },
  title: { order: 'lower(title) asc', after: 'lower(title) >' },
}

// A page ends with the cursor of its last note: the id (newest, oldest) or
// the hex of the UTF-8 of lower(title) as the database computed it (title).
const encoder = new TextEncoder()
const toHex = (text) => Array.from(encoder.encode(text), (b) => b.toString(16).padStart(2, '0')).join('')

function fromCursor(sort, raw) {
  if (sort !== 'title') {
    if (!/^[0-9]+$/.test(raw)) return null
    const id = BigInt(raw)
    return id > 0n && id < 2n ** 63n ? id : null
  }
  if (!/^([0-9a-f]{2})*$/.test(raw)) return null
  const bytes = Uint8Array.from(raw.match(/../g) ?? [], (pair) => parseInt(pair, 16))
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return null
  }
}

// LIKE matches `%` and `_` anywhere; escaped, they match themselves.
const contains = (q) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

export async function GET(request) {
  const query = request.nextUrl.searchParams
  const sortName = query.get('sort') || 'newest'
  const sort = Object.hasOwn(SORTS, sortName) ? SORTS[sortName] : null
  if (!sort) return error(400, 'sort must be one of newest, oldest, title')
  const rawLimit = query.get('limit') || String(DEFAULT_LIMIT)
  const limit = /^[0-9]+$/.test(rawLimit) ? Number(rawLimit) : 0
  if (limit < 1 || limit > MAX_LIMIT) return error(400, `limit must be an integer from 1 to ${MAX_LIMIT}`)
  const rawCursor = query.get('cursor')
  const cursor = rawCursor ? fromCursor(sortName, rawCursor) : undefined
  if (cursor === null) return error(400, 'Invalid cursor')

  // A statement built from parts: db().query with its parameters in order.
  const where = []
  const params = []
  const q = query.get('q')
  if (q) {
    params.push(contains(q))
    const n = params.length
    where.push(`(lower(title) like lower($${n}) escape '\\' or lower(body) like lower($${n}) escape '\\')`)
  }
  if (cursor !== undefined) {
    params.push(cursor)
    where.push(`${sort.after} $${params.length}`)
  }
  params.push(limit + 1)
  const text =
    `select ${NOTE_COLUMNS}, lower(title) as title_key from notes` +
    (where.length ? ` where ${where.join(' and ')}` : '') +
    ` order by ${sort.order} limit $${params.length}`
  const { rows } = await db('default').query(text, params)

  const page = rows.slice(0, limit)
  const last = page.at(-1)
  const nextCursor = rows.length > limit ? (sortName === 'title' ? toHex(last.title_key) : String(last.id)) : null
  return Response.json({ notes: page.map(note), nextCursor })
}

export async function POST(request) {
  const changes = await readChanges(request, { required: true })
  if (changes instanceof Response) return changes
  const now = new Date().toISOString()
  try {
    const { rows } = await sql`
      insert into notes (title, body, created_at, updated_at)
      values (${changes.title}, ${changes.body ?? ''}, ${now}, ${now})
      returning id, title, body, created_at, updated_at`
    const created = note(rows[0])
    return Response.json(created, { status: 201, headers: { location: `/api/notes/${created.id}` } })
  } catch (e) {
    if (titleTaken(e)) return error(409, TITLE_TAKEN)
    throw e
  }
}
