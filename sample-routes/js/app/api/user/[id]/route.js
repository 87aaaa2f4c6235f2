// GET /api/user/[id] — look a user up in a (simulated) database: 404 when
// there is none, 500 when the database fails (details in the log only).
const users = {
  1: { name: 'Alice', email: 'alice@example.com' },
  2: { name: 'Bob', email: 'bob@example.com' },
}

async function findUser(id) {
  if (id === 'boom') throw new Error('connection reset')
  return Object.hasOwn(users, id) ? { id, ...users[id] } : null
}

export async function GET(request, { params }) {
  const { id } = await params
  try {
    const user = await findUser(id)
    if (!user) return Response.json({ error: 'User not found' }, { status: 404 })
    return Response.json(user)
  } catch (error) {
    console.error(`database error looking up user ${JSON.stringify(id)}: ${error.message}`)
    return Response.json({ error: 'Internal server error' }, { status: 500 })
  }
}
