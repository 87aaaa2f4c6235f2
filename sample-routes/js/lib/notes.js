// What app/api/notes/route.js and app/api/notes/[id]/route.js share: the
// note's JSON, the checks of what a client sends, and their messages, the
// same as the Rust samples' (sample-routes/notes, notes-id) to the byte.
import { readJson } from './json-body.js'

export const MAX_TITLE_CHARS = 200
export const MAX_BODY_CHARS = 10000

/// The columns of a note, in the order of its JSON.
export const NOTE_COLUMNS = 'id, title, body, created_at, updated_at'

export const error = (status, message) => Response.json({ error: message }, { status })

/// A row of NOTE_COLUMNS as the note's JSON (keys in this order).
export function note(row) {
  return { id: row.id, title: row.title, body: row.body, createdAt: row.created_at, updatedAt: row.updated_at }
}

/// Whether a database error is the unique index on lower(title) refusing a
/// second note of that title.
export const titleTaken = (e) => e?.name === 'SqlError' && e.code === 'constraint' && e.constraint === 'unique'

export const TITLE_TAKEN = 'A note with this title already exists'

/// The `[id]` segment as a BigInt: digits only, 1 to 2^63 − 1 (a SQL
/// integer); null otherwise.
export function noteId(raw) {
  if (!/^[0-9]+$/.test(raw)) return null
  const id = BigInt(raw)
  return id > 0n && id < 2n ** 63n ? id : null
}

export const BAD_ID = 'Note id must be a positive integer'

// Rust's `str::trim`: Unicode White_Space, which differs from what
// JavaScript's trim() removes (U+0085 is space to Rust, U+FEFF is not).
const EDGE_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g

/// Characters as the notes count them: Unicode code points.
const length = (text) => [...text].length

/// The `title` and `body` a POST (`required`: a title must be there) or a
/// PATCH sends: `{ title?, body? }`, or the Response refusing them.
export async function readChanges(request, { required }) {
  const read = await readJson(request)
  if ('error' in read) return error(400, read.error)
  const sent = read.value
  if (typeof sent !== 'object' || sent === null || Array.isArray(sent)) return error(400, 'Send a JSON object')
  const changes = {}
  if (required || Object.hasOwn(sent, 'title')) {
    if (typeof sent.title !== 'string') return error(422, 'title must be a string')
    const title = sent.title.replace(EDGE_SPACE, '')
    if (title === '') return error(422, 'title must not be empty')
    if (length(title) > MAX_TITLE_CHARS) return error(422, `title must be at most ${MAX_TITLE_CHARS} characters`)
    changes.title = title
  }
  if (Object.hasOwn(sent, 'body')) {
    if (typeof sent.body !== 'string') return error(422, 'body must be a string')
    if (length(sent.body) > MAX_BODY_CHARS) return error(422, `body must be at most ${MAX_BODY_CHARS} characters`)
    changes.body = sent.body
  }
  if (!required && !('title' in changes) && !('body' in changes)) {
    return error(422, 'Nothing to update: send `title` and/or `body`')
  }
  return changes
}
