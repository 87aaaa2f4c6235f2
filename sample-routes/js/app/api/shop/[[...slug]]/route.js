// GET /api/shop/[[...slug]] — an optional catch-all: absent for /api/shop.
export async function GET(request, { params }) {
  const { slug } = await params
  return Response.json({ slug: slug ?? [] })
}
