// fetch() from a route: through the host's wasi:http, so only to the
// route's `allowed_outbound_hosts`. GET catches a refusal; POST does not.
export async function GET(request) {
  const url = request.nextUrl.searchParams.get('url')
  try {
    const upstream = await fetch(url)
    return Response.json({ status: upstream.status, body: await upstream.text() })
  } catch (error) {
    return Response.json({ error: `fetch failed: ${error.message}` }, { status: 502 })
  }
}

export async function POST(request) {
  const upstream = await fetch(request.nextUrl.searchParams.get('url'))
  return new Response(await upstream.text())
}
