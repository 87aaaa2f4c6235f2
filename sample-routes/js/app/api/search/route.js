// GET /api/search?q=…&limit=… — the query string, and a 400 for a bad limit.
const DEFAULT_LIMIT = 10n
const MAX_LIMIT = 2n ** 64n - 1n

function badRequest(message) {
  return Response.json({ error: message }, { status: 400 })
}

export async function GET(request) {
  const searchParams = request.nextUrl.searchParams
  const query = searchParams.get('q')
  const raw = searchParams.get('limit')
  let limit = DEFAULT_LIMIT
  if (raw !== null && raw !== '') {
    if (!/^[0-9]+$/.test(raw)) return badRequest(`limit must be a non-negative integer, got ${JSON.stringify(raw)}`)
    limit = BigInt(raw)
    if (limit > MAX_LIMIT) return badRequest(`limit is too large: ${raw}`)
  }
  // Written by hand: a limit above 2^53 must not be rounded by JSON.stringify.
  const name = `Result for ${query ?? 'null'}`
  const body = `{"query":${JSON.stringify(query)},"limit":${limit},"results":[{"id":1,"name":${JSON.stringify(name)}}]}`
  return new Response(body, { headers: { 'content-type': 'application/json' } })
}
