// GET /api/posts/[id] — `params` is a Promise, as in Next.js 15.
export async function GET(request, { params }) {
  const { id } = await params
  return Response.json({ id, title: `Post ${id}`, content: 'Post content here...' })
}
