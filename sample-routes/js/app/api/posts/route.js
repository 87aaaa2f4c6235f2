// GET /api/posts
const posts = [
  { id: 1, title: 'First Post' },
  { id: 2, title: 'Second Post' },
]

export async function GET() {
  return Response.json(posts)
}
