// /api/todos — GET lists, POST creates, DELETE clears. Each request runs in
// a fresh instance, so, like the tutorial, the answers are made up on the spot.
export async function GET() {
  return Response.json([{ id: 1, task: 'Learn Next.js', done: false }])
}

export async function POST(request) {
  const { task } = await request.json()
  return Response.json({ id: Date.now(), task, done: false }, { status: 201 })
}

export async function DELETE() {
  return Response.json({ message: 'All todos deleted' })
}
