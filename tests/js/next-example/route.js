// The example route file, unchanged, plus a handler that throws:
// what a Next.js App Router route.js looks like.
export async function GET(request, { params }) {
  const { id } = await params
  const q = new URL(request.url).searchParams.get('q')
  return Response.json({ id, q, key: process.env.API_KEY ? 'set' : 'unset' })
}
export async function POST(request) {
  const body = await request.json()
  return Response.json({ ...body, id: Date.now() }, { status: 201 })
}
export function DELETE() {
  throw new Error('DELETE fails on purpose')
}
