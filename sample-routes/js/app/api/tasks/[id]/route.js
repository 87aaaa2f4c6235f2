// /api/tasks/[id] — GET, PATCH and DELETE one task kept in the key-value
// store `default`, in the Rust samples' format (`task:` and the id in 20
// digits, the task as JSON), so JS and Rust routes share the same tasks.
import { openStore } from '@wasmroutes/kv'

const MAX_TITLE_CHARS = 200

const error = (status, message) => Response.json({ error: message }, { status })
const taskKey = (id) => `task:${id.toString().padStart(20, '0')}`

// A positive integer that fits in 64 bits, digits only (as the Rust route).
function taskId(raw) {
  if (!/^[0-9]+$/.test(raw)) return null
  const id = BigInt(raw)
  return id > 0n && id < 2n ** 64n ? id : null
}

function changes(body) {
  const result = {}
  if ('title' in body) {
    if (typeof body.title !== 'string') return 'title must be a string'
    const title = body.title.trim()
    if (!title) return 'title must not be empty'
    if ([...title].length > MAX_TITLE_CHARS) return `title must be at most ${MAX_TITLE_CHARS} characters`
    result.title = title
  }
  if ('done' in body) {
    if (typeof body.done !== 'boolean') return 'done must be true or false'
    result.done = body.done
  }
  if (!('title' in result) && !('done' in result)) return 'Nothing to update: send `title` and/or `done`'
  return result
}

export async function GET(request, { params }) {
  const id = taskId((await params).id)
  if (id === null) return error(400, 'Task id must be a positive integer')
  const task = openStore('default').getJson(taskKey(id))
  return task === undefined ? error(404, 'Task not found') : Response.json(task)
}

export async function PATCH(request, { params }) {
  const id = taskId((await params).id)
  if (id === null) return error(400, 'Task id must be a positive integer')
  const body = await request.json()
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return error(400, 'Send a JSON object')
  const update = changes(body)
  if (typeof update === 'string') return error(400, update)
  // Compare-and-swap, so a PATCH racing another one loses nothing. Key
  // order as the Rust route writes it: id, title, done.
  const task = openStore('default').updateJson(taskKey(id), (old) =>
    old && { id: old.id, title: update.title ?? old.title, done: update.done ?? old.done },
  )
  return task === undefined ? error(404, 'Task not found') : Response.json(task)
}

export async function DELETE(request, { params }) {
  const id = taskId((await params).id)
  if (id === null) return error(400, 'Task id must be a positive integer')
  const store = openStore('default')
  if (!store.exists(taskKey(id))) return error(404, 'Task not found')
  store.delete(taskKey(id))
  return new Response(null, { status: 204 })
}
