// POST /api/users — create a user from the JSON body, as in the tutorial.
// A body that is not JSON makes `request.json()` throw, as in Next.js: the
// host answers its 500 envelope and logs the error.
export async function POST(request) {
  const { name, email } = await request.json()
  return Response.json({ id: Date.now(), name, email }, { status: 201 })
}
