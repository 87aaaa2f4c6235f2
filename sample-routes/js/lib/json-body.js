// The request body as JSON, read the way the Rust SDK's `Request::json`
// reads it, so that the JS notes routes answer byte for byte what the Rust
// ones do: an empty body and a body that is not JSON are a 400 carrying the
// same reason serde_json gives, position included ("Invalid JSON body:
// expected `,` or `}` at line 1 column 12"). A route of your own can simply
// catch the SyntaxError of `await request.json()`.
//
// The checker below follows serde_json's parser (1.0, reading a
// `serde_json::Value` from a `&str`) step by step: the same order of
// checks, the same error at the same byte. JSON.parse then makes the value:
// what serde_json accepts, it accepts too, and gives the same value.

const RUST_WHITESPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/

/// `{ value }`, or `{ error }`: the message of the Rust SDK's 400.
export async function readJson(request) {
  // text() drops a leading byte-order mark and turns bad UTF-8 into U+FFFD,
  // as the Rust SDK's does.
  const text = await request.text()
  // Rust's `str::trim` (Unicode White_Space, which is not JavaScript's set).
  if (RUST_WHITESPACE.test(text)) return { error: 'Request body is empty; expected JSON' }
  const problem = syntaxError(new TextEncoder().encode(text))
  if (problem) return { error: `Invalid JSON body: ${problem}` }
  return { value: JSON.parse(text) }
}

const U64_MAX = 2n ** 64n - 1n
const I32_MAX = 2 ** 31 - 1
const I32_MIN = -(2 ** 31)

const isDigit = (b) => b >= 0x30 && b <= 0x39
const isHex = (b) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)

class Syntax {
  constructor(message) {
    this.message = message
  }
}

/// What serde_json says of `bytes` ("expected value at line 1 column 1"),
/// or null when they are one JSON value.
export function syntaxError(bytes) {
  let i = 0
  let depth = 128
  const len = bytes.length

  const at = (index) => {
    let start = 0
    let line = 1
    for (let k = 0; k < index; k++) {
      if (bytes[k] === 0x0a) {
        start = k + 1
        line++
      }
    }
    return `line ${line} column ${index - start}`
  }
  // serde_json's `error` (at the byte just read) and `peek_error` (at the
  // byte about to be read).
  const error = (message) => new Syntax(`${message} at ${at(i)}`)
  const peekError = (message) => new Syntax(`${message} at ${at(Math.min(len, i + 1))}`)
  const peek = () => (i < len ? bytes[i] : undefined)
  const peekOrNull = () => (i < len ? bytes[i] : 0)
  const whitespace = () => {
    while (i < len && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x09 || bytes[i] === 0x0d)) i++
    return peek()
  }

  const ident = (rest) => {
    for (const expected of rest) {
      if (i >= len) throw error('EOF while parsing a value')
      if (bytes[i++] !== expected.charCodeAt(0)) throw error('expected ident')
    }
  }

  // f64_from_parts: only whether the number is out of range matters here.
  const fromParts = (significand, exponent) => {
    let f = Number(significand)
    for (;;) {
      const magnitude = Math.abs(exponent)
      if (magnitude <= 308) {
        if (exponent >= 0) {
          f *= Number(`1e${magnitude}`)
          if (!Number.isFinite(f)) throw error('number out of range')
        }
        return
      }
      if (f === 0) return
      if (exponent >= 0) throw error('number out of range')
      f /= 1e308
      exponent += 308
    }
  }

  const exponentPart = (significand, startingExp) => {
    i++
    let positiveExp = true
    if (peekOrNull() === 0x2b) i++
    else if (peekOrNull() === 0x2d) {
      i++
      positiveExp = false
    }
    if (i >= len) throw error('EOF while parsing a value')
    const first = bytes[i++]
    if (!isDigit(first)) throw error('invalid number')
    let exp = first - 0x30
    while (isDigit(peekOrNull())) {
      const digit = bytes[i++] - 0x30
      if (exp >= Math.floor(I32_MAX / 10) && (exp > Math.floor(I32_MAX / 10) || digit > I32_MAX % 10)) {
        // parse_exponent_overflow: infinity is an error, zero is not.
        if (significand !== 0n && positiveExp) throw error('number out of range')
        while (isDigit(peekOrNull())) i++
        return
      }
      exp = exp * 10 + digit
    }
    const total = positiveExp ? startingExp + exp : startingExp - exp
    fromParts(significand, Math.min(I32_MAX, Math.max(I32_MIN, total)))
  }

  const overflows = (significand, digit) =>
    significand >= U64_MAX / 10n && (significand > U64_MAX / 10n || BigInt(digit) > U64_MAX % 10n)

  const decimal = (significand, exponentBefore) => {
    i++
    let after = 0
    while (isDigit(peekOrNull())) {
      const digit = bytes[i] - 0x30
      if (overflows(significand, digit)) {
        // parse_decimal_overflow: the digits that do not fit are dropped.
        while (isDigit(peekOrNull())) i++
        if (peekOrNull() === 0x65 || peekOrNull() === 0x45) return exponentPart(significand, exponentBefore + after)
        return fromParts(significand, exponentBefore + after)
      }
      i++
      significand = significand * 10n + BigInt(digit)
      after--
    }
    if (after === 0) {
      throw peekError(i < len ? 'invalid number' : 'EOF while parsing a value')
    }
    const exponent = exponentBefore + after
    if (peekOrNull() === 0x65 || peekOrNull() === 0x45) return exponentPart(significand, exponent)
    return fromParts(significand, exponent)
  }

  const numberTail = (significand, exponent) => {
    const next = peekOrNull()
    if (next === 0x2e) return decimal(significand, exponent)
    if (next === 0x65 || next === 0x45) return exponentPart(significand, exponent)
    if (exponent !== 0) fromParts(significand, exponent)
  }

  const number = () => {
    if (i >= len) throw error('EOF while parsing a value')
    const first = bytes[i++]
    if (first === 0x30) {
      if (isDigit(peekOrNull())) throw peekError('invalid number')
      return numberTail(0n, 0)
    }
    if (!isDigit(first)) throw error('invalid number')
    let significand = BigInt(first - 0x30)
    while (isDigit(peekOrNull())) {
      const digit = bytes[i] - 0x30
      if (overflows(significand, digit)) {
        // parse_long_integer: the rest only scales it.
        let exponent = 0
        while (isDigit(peekOrNull())) {
          i++
          exponent++
        }
        return numberTail(significand, exponent)
      }
      i++
      significand = significand * 10n + BigInt(digit)
    }
    return numberTail(significand, 0)
  }

  const hexEscape = () => {
    if (len - i < 4) {
      i = len
      throw error('EOF while parsing a string')
    }
    const digits = bytes.subarray(i, i + 4)
    i += 4
    if (!digits.every(isHex)) throw error('invalid escape')
    return parseInt(String.fromCharCode(...digits), 16)
  }

  const unicodeEscape = () => {
    const n = hexEscape()
    if (n >= 0xdc00 && n <= 0xdfff) throw error('lone leading surrogate in hex escape')
    if (n < 0xd800 || n > 0xdbff) return
    for (const expected of [0x5c, 0x75]) {
      if (i >= len) throw error('EOF while parsing a string')
      if (bytes[i++] !== expected) throw error('unexpected end of hex escape')
    }
    const n2 = hexEscape()
    if (n2 < 0xdc00 || n2 > 0xdfff) throw error('lone leading surrogate in hex escape')
  }

  const string = () => {
    for (;;) {
      while (i < len && bytes[i] >= 0x20 && bytes[i] !== 0x22 && bytes[i] !== 0x5c) i++
      if (i === len) throw error('EOF while parsing a string')
      const b = bytes[i++]
      if (b === 0x22) return
      if (b !== 0x5c) throw error('control character (\\u0000-\\u001F) found while parsing a string')
      if (i >= len) throw error('EOF while parsing a string')
      const escape = bytes[i++]
      if (escape === 0x75) unicodeEscape()
      else if (!'"\\/bfnrt'.includes(String.fromCharCode(escape))) throw error('invalid escape')
    }
  }

  const nested = (close, eof, separatorOrEnd, member) => {
    if (--depth === 0) throw peekError('recursion limit exceeded')
    i++
    let first = true
    for (;;) {
      const next = whitespace()
      if (next === undefined) throw peekError(eof)
      if (next === close) break
      if (first) {
        first = false
      } else if (next === 0x2c) {
        i++
        const after = whitespace()
        if (after === close) throw peekError('trailing comma')
        if (after === undefined) throw peekError('EOF while parsing a value')
      } else {
        throw peekError(separatorOrEnd)
      }
      member()
    }
    i++
    depth++
  }

  const entry = () => {
    if (peek() !== 0x22) throw peekError('key must be a string')
    i++
    string()
    const colon = whitespace()
    if (colon === undefined) throw peekError('EOF while parsing an object')
    if (colon !== 0x3a) throw peekError('expected `:`')
    i++
    value()
  }

  const value = () => {
    const next = whitespace()
    if (next === undefined) throw peekError('EOF while parsing a value')
    switch (next) {
      case 0x6e:
        i++
        return ident('ull')
      case 0x74:
        i++
        return ident('rue')
      case 0x66:
        i++
        return ident('alse')
      case 0x2d:
        i++
        return number()
      case 0x22:
        i++
        return string()
      case 0x5b:
        return nested(0x5d, 'EOF while parsing a list', 'expected `,` or `]`', value)
      case 0x7b:
        return nested(0x7d, 'EOF while parsing an object', 'expected `,` or `}`', entry)
      default:
        if (isDigit(next)) return number()
        throw peekError('expected value')
    }
  }

  try {
    value()
    if (whitespace() !== undefined) throw peekError('trailing characters')
    return null
  } catch (problem) {
    if (problem instanceof Syntax) return problem.message
    throw problem
  }
}
