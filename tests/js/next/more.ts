// Re-exported by route.ts with `export *`: still one of the route's methods.
import { cookies } from 'next/headers'

export async function DELETE(): Promise<Response> {
  const jar = await cookies()
  jar.set('session', 'x') // throws: setting cookies is not supported; the host answers 500
  return new Response(null, { status: 204 })
}
