// `next/server` for route files: `NextResponse` (and `NextRequest` for
// `instanceof` and types). A route handler gets a Web `Request` that already
// carries `nextUrl` (shim.js), which is what NextRequest adds for handlers;
// middleware-only helpers throw, saying so.

/// Next.js's Response with its static helpers; `new NextResponse(body, init)`
/// is a plain Response.
export class NextResponse extends Response {
  static json(body, init) {
    return Response.json(body, init)
  }

  // `NextResponse.redirect(url, 307)` or `(url, { status, headers })`.
  static redirect(url, init) {
    const options = typeof init === 'number' ? { status: init } : init ?? {}
    const status = options.status ?? 307
    if (![301, 302, 303, 307, 308].includes(status)) {
      throw new RangeError(`NextResponse.redirect: ${status} is not a redirect status`)
    }
    const headers = new Headers(options.headers)
    headers.set('location', String(url))
    return new Response(null, { ...options, status, headers })
  }

  static rewrite() {
    throw new Error('NextResponse.rewrite() is for Next.js middleware; wasmroutes serves route handlers only')
  }

  static next() {
    throw new Error('NextResponse.next() is for Next.js middleware; wasmroutes serves route handlers only')
  }
}

/// Every request a handler gets is a NextRequest in the sense that matters
/// to route code (`nextUrl`): `instanceof NextRequest` says so.
export class NextRequest extends Request {
  static [Symbol.hasInstance](value) {
    return value instanceof Request && 'nextUrl' in value
  }
}
