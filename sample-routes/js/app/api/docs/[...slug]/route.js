// GET /api/docs/[...slug] — a catch-all: `slug` is an array of segments.
export async function GET(request, { params }) {
  const { slug } = await params
  return Response.json({ slug })
}
