// TypeScript, `next/server` and `next/headers`, and methods exported every
// way a module can: a declaration, a renamed binding, and `export *`.
import { NextRequest, NextResponse } from 'next/server'
import { cookies, headers } from 'next/headers'

type Params = { slug?: string[] }

export async function GET(request: NextRequest, { params }: { params: Promise<Params> }): Promise<Response> {
  const { slug } = await params
  const h = await headers()
  const jar = await cookies()
  return NextResponse.json(
    {
      slug: slug ?? null,
      isNextRequest: request instanceof NextRequest,
      agent: h.get('user-agent'),
      theme: jar.get('theme')?.value ?? null,
      cookies: jar.getAll().map((c) => c.name),
      sync: headers().get('x-test'),
    },
    { status: 202, headers: { 'x-powered-by': 'wasmroutes' } },
  )
}

export function POST(request: NextRequest): Response {
  return NextResponse.redirect(new URL('/api/elsewhere', request.url), 308)
}

function replace(): Response {
  return new NextResponse('put ok', { status: 200, headers: { 'content-type': 'text/plain' } })
}
export { replace as PUT }

export * from './more'
