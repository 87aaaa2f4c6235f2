// GET /api/hello — the tutorial's first route, as a Next.js route file.
export async function GET() {
  return Response.json({ message: 'Hello from API!' })
}
