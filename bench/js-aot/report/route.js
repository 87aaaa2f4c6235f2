// GET /api/report?n=… — a CPU-bound handler: n orders (default 20,000) from
// a seeded generator, totalled per customer, sorted, the top 10 returned.
// The in-memory aggregation an API runs over a page of fetched data, here
// without the fetch, so that the engine's speed is all that is measured.
export function GET(request) {
  const raw = request.nextUrl.searchParams.get('n') ?? '20000'
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 1000000) {
    return Response.json({ error: `n must be an integer from 1 to 1000000, got ${JSON.stringify(raw)}` }, { status: 400 })
  }
  let seed = 42
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 4294967296
  }
  const orders = []
  for (let i = 0; i < n; i++) {
    orders.push({ customer: `c${Math.floor(next() * 500)}`, amount: Math.round(next() * 10000) / 100, items: 1 + Math.floor(next() * 5) })
  }
  const totals = new Map()
  for (const order of orders) {
    const total = totals.get(order.customer) ?? { customer: order.customer, orders: 0, items: 0, amount: 0 }
    total.orders += 1
    total.items += order.items
    total.amount += order.amount
    totals.set(order.customer, total)
  }
  const top = [...totals.values()]
    .sort((a, b) => b.amount - a.amount || a.customer.localeCompare(b.customer))
    .slice(0, 10)
    .map((t) => ({ ...t, amount: Math.round(t.amount * 100) / 100 }))
  return Response.json({ orders: n, customers: totals.size, top })
}
