// /api/notes/[id] — GET, PATCH and DELETE one note of the SQL database
// `default`, answering as the Rust sample notes-id does, byte for byte.
import { sql } from '@wasmroutes/sql'

import { BAD_ID, TITLE_TAKEN, error, note, noteId, readChanges, titleTaken } from '../../../../lib/notes.js'

const NOT_FOUND = 'Note not found'

export async function GET(request, { params }) {
  const id = noteId((await params).id)
  if (id === null) return error(400, BAD_ID)
  const { rows } = await sql`select id, title, body, created_at, updated_at from notes where id = ${id}`
  return rows.length ? Response.json(note(rows[0])) : error(404, NOT_FOUND)
}

export async function PATCH(request, { params }) {
  const id = noteId((await params).id)
  if (id === null) return error(400, BAD_ID)
  const changes = await readChanges(request, { required: false })
  if (changes instanceof Response) return changes
  try {
    // A field not sent is null here, and keeps its value.
    const { rows } = await sql`
      update notes
      set title = coalesce(${changes.title ?? null}, title),
          body = coalesce(${changes.body ?? null}, body),
          updated_at = ${new Date().toISOString()}
      where id = ${id}
      returning id, title, body, created_at, updated_at`
    return rows.length ? Response.json(note(rows[0])) : error(404, NOT_FOUND)
  } catch (e) {
    if (titleTaken(e)) return error(409, TITLE_TAKEN)
    throw e
  }
}

export async function DELETE(request, { params }) {
  const id = noteId((await params).id)
  if (id === null) return error(400, BAD_ID)
  const { rowCount } = await sql`delete from notes where id = ${id}`
  return rowCount ? new Response(null, { status: 204 }) : error(404, NOT_FOUND)
}
