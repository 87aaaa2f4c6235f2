// What makes a route component depend only on its sources: the same
// route.js and toolchain give the same bytes, so the host's compile cache
// (keyed by the component's hash) hits after an unchanged rebuild.
//
// componentize-js runs the engine in wizer and snapshots its memory, and
// three things there differ from one build to the next:
//
// - host paths: the engine is given the folder of the bundle and a work
//   folder of componentize-js's own (named after Math.random()) as preopened
//   directories and in its arguments, and those strings stay in memory;
// - randomness: SpiderMonkey seeds its hash-code scramblers and symbol hashes
//   from `random_get` while it starts, which orders hash tables differently;
// - clocks: the engine keeps monotonic timestamps of its start-up (GC
//   statistics, timers).
//
// `relocated()` gives wizer fixed guest names for those folders, and
// `deterministicEngine()` makes `random_get` and the monotonic clocks
// answer the same way on every pre-initialisation. Neither changes what a
// component does when it runs: the guest paths name files read at build
// time (they appear in stack traces, no longer as random host paths), and
// the engine patch is inert once the snapshot is taken.

import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

// The guest name wizer gives componentize-js's work folder, and the prefix
// the engine is told to strip from script paths in place of the bundle
// folder's host path (like that path, it matches no guest path).
const GUEST_SOURCES = '/componentize-js';
const GUEST_STRIP_PREFIX = '/componentize-js-workspace/';

/// Runs `start` (a componentize() call) with the wizer it spawns seeing
/// fixed guest paths instead of this build's temporary folders.
/// componentize-js imports `spawnSync` by name, so the binding is swapped
/// (node:module's `syncBuiltinESMExports`) for the duration of the call.
export async function relocated(start) {
  const spawnSync = childProcess.spawnSync;
  childProcess.spawnSync = (file, args, options) => {
    if (Array.isArray(args) && args.includes('componentize.wizer') && typeof options?.input === 'string') {
      const moved = relocate(args, options.input);
      return spawnSync(file, moved.args, { ...options, input: moved.input });
    }
    return spawnSync(file, args, options);
  };
  syncBuiltinESMExports();
  try {
    return await start();
  } finally {
    childProcess.spawnSync = spawnSync;
    syncBuiltinESMExports();
  }
}

// componentize-js 0.23 runs
//   wizer … --dir=<its work folder>/sources --mapdir=/::<bundle folder> …
// with `--initializer-script-path <its work folder>/sources/initializer.js
// --strip-path-prefix <bundle folder>/ bundle.js` on stdin. The bundle's
// folder is already `/` to the guest; only its host name in the
// strip-prefix argument leaks (it never matches a guest path, and neither
// does its replacement).
function relocate(args, input) {
  const dir = args.filter((a) => a.startsWith('--dir='));
  const root = args.filter((a) => a.startsWith('--mapdir=/::'));
  if (dir.length !== 1 || root.length !== 1) {
    throw new Error(`unexpected wizer arguments from componentize-js: ${args.join(' ')}`);
  }
  const sources = dir[0].slice('--dir='.length);
  const workspace = root[0].slice('--mapdir=/::'.length);
  const moved = input
    .split(`${sources}/`)
    .join(`${GUEST_SOURCES}/`)
    .split(` ${workspace}/ `)
    .join(` ${GUEST_STRIP_PREFIX} `);
  if (moved.includes(sources) || moved.includes(workspace)) {
    throw new Error(`unexpected engine arguments from componentize-js: ${input}`);
  }
  return {
    args: args.map((a) => (a === dir[0] ? `--mapdir=${GUEST_SOURCES}::${sources}` : a)),
    input: moved,
  };
}

// ---------------------------------------------------------------------------
// The engine patch.
//
// The engine (a core module) imports `wasi_snapshot_preview1.random_get`
// and `clock_time_get`. Every call of them is redirected to a new function
// that, while pre-initialisation runs, answers from a generator seeded by
// the caller (random) or a counter advanced 1 ms per call (monotonic,
// process and thread clocks), and otherwise calls the import exactly as
// before. The wall clock is never replaced: a route's module scope that
// reads the date at build time still gets the real one.
//
// The seed keys the engine's hash-code scramblers (how Map and Set hash
// their keys) in every instance of the component, so the caller derives it
// from the bundle: one constant would be the same, public, key for every
// route anyone builds, letting a client choose keys that collide.
//
// "While pre-initialisation runs" is a new global that starts at 1 and
// that the wizer entry point (`componentize.wizer`, now wrapped) sets to 0
// when it returns, so the snapshot holds 0. After the snapshot,
// componentize-js stubs preview1 `random_get` to trap, as before (runtime
// randomness comes from `wasi:random`), and the clock import is the real
// clock.

const INIT_EXPORT = 'componentize.wizer';
const WASI = 'wasi_snapshot_preview1';
// Knuth's MMIX linear congruential generator; the top byte is output.
const LCG_MUL = 6364136223846793005n;
const LCG_ADD = 1442695040888963407n;
const CLOCK_STEP_NS = 1000000n;
const CLOCK_REALTIME = 0;

/// The engine at `bytes` (a core module), with pre-initialisation made
/// deterministic as described above; `seed` (a 64-bit BigInt) seeds its
/// randomness.
export function deterministicEngine(bytes, seed) {
  const m = Buffer.from(bytes);
  if (m.readUInt32LE(0) !== 0x6d736100 || m.readUInt32LE(4) !== 1) {
    throw new Error('the engine is not a core WebAssembly module');
  }
  const sections = [];
  for (let p = 8; p < m.length; ) {
    const id = m[p];
    const [size, start] = uleb(m, p + 1);
    sections.push({ id, start, end: start + size });
    p = start + size;
  }
  const section = (id) => {
    const found = sections.filter((s) => s.id === id);
    if (found.length !== 1) throw new Error(`the engine has ${found.length} sections of kind ${id}`);
    return found[0];
  };

  // Imports: the two functions' indices and types; how many globals are imported.
  let importedFuncs = 0;
  let importedGlobals = 0;
  const wanted = {};
  {
    const s = section(2);
    let [n, p] = uleb(m, s.start);
    for (let i = 0; i < n; i++) {
      let module;
      let name;
      [module, p] = string(m, p);
      [name, p] = string(m, p);
      const kind = m[p++];
      if (kind === 0) {
        let type;
        [type, p] = uleb(m, p);
        if (module === WASI && (name === 'random_get' || name === 'clock_time_get')) {
          wanted[name] = { index: importedFuncs, type };
        }
        importedFuncs++;
      } else if (kind === 1) {
        p = limits(m, p + 1);
      } else if (kind === 2) {
        p = limits(m, p);
      } else if (kind === 3) {
        p += 2;
        importedGlobals++;
      } else {
        throw new Error(`the engine has an import of kind ${kind}`);
      }
    }
  }
  const random = wanted.random_get;
  const clock = wanted.clock_time_get;
  if (!random || !clock) throw new Error('the engine imports no random_get or clock_time_get');

  // Types: the signatures the new functions reuse must be what they expect.
  const types = [];
  {
    const s = section(1);
    let [n, p] = uleb(m, s.start);
    for (let i = 0; i < n; i++) {
      if (m[p] !== 0x60) throw new Error('the engine has a type that is not a function type');
      let params;
      let results;
      [params, p] = valtypes(m, p + 1);
      [results, p] = valtypes(m, p);
      types.push(`${params}->${results}`);
    }
  }
  expect(types[random.type] === '7f7f->7f', 'random_get has an unexpected type');
  expect(types[clock.type] === '7f7e7f->7f', 'clock_time_get has an unexpected type');

  // Functions and the wizer entry point.
  const funcSection = section(3);
  const [definedFuncs, funcEntries] = uleb(m, funcSection.start);
  const funcTypes = [];
  for (let i = 0, p = funcEntries; i < definedFuncs; i++) {
    let t;
    [t, p] = uleb(m, p);
    funcTypes.push(t);
  }
  const exportSection = section(7);
  let init = null;
  {
    let [n, p] = uleb(m, exportSection.start);
    for (let i = 0; i < n; i++) {
      let name;
      [name, p] = string(m, p);
      const kind = m[p];
      const [index, next] = uleb(m, p + 1);
      if (kind === 0 && name === INIT_EXPORT) init = { index, at: p + 1, end: next };
      p = next;
    }
  }
  if (!init || init.index < importedFuncs) throw new Error(`the engine exports no function ${INIT_EXPORT}`);
  const initType = funcTypes[init.index - importedFuncs];
  expect(types[initType] === '->', `${INIT_EXPORT} has an unexpected type`);

  // New globals and functions go after the existing ones, so no index moves.
  const globalSection = section(6);
  const [definedGlobals] = uleb(m, globalSection.start);
  const gFlag = importedGlobals + definedGlobals;
  const gRandom = gFlag + 1;
  const gClock = gFlag + 2;
  const fRandom = importedFuncs + definedFuncs;
  const fClock = fRandom + 1;
  const fInit = fRandom + 2;

  const code = section(10);
  const newCode = redirectCalls(m, code, new Map([[random.index, fRandom], [clock.index, fClock]]));

  const globals = concat([
    [0x7f, 0x01, 0x41, ...sleb(1n), 0x0b],
    [0x7e, 0x01, 0x42, ...sleb(seed), 0x0b],
    [0x7e, 0x01, 0x42, ...sleb(0n), 0x0b],
  ]);
  const randomBody = body([0x7f], [
    // if !pre-initialising: return random_get(buf, len)
    0x23, ...uleb128(gFlag), 0x45, 0x04, 0x40,
    0x20, 0x00, 0x20, 0x01, 0x10, ...uleb128(random.index), 0x0f,
    0x0b,
    // end = buf + len; while buf < end: state = state * a + c; *buf++ = state >> 56
    0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x02,
    0x02, 0x40, 0x03, 0x40,
    0x20, 0x00, 0x20, 0x02, 0x4f, 0x0d, 0x01,
    0x23, ...uleb128(gRandom), 0x42, ...sleb(LCG_MUL), 0x7e, 0x42, ...sleb(LCG_ADD), 0x7c, 0x24, ...uleb128(gRandom),
    0x20, 0x00, 0x23, ...uleb128(gRandom), 0x42, 0x38, 0x88, 0x3c, 0x00, 0x00,
    0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00,
    0x0c, 0x00,
    0x0b, 0x0b,
    0x41, 0x00,
  ]);
  const clockBody = body([], [
    // if !pre-initialising || id == realtime: return clock_time_get(id, precision, out)
    0x23, ...uleb128(gFlag), 0x45, 0x20, 0x00, 0x41, ...sleb(BigInt(CLOCK_REALTIME)), 0x46, 0x72, 0x04, 0x40,
    0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0x10, ...uleb128(clock.index), 0x0f,
    0x0b,
    // time += 1 ms; *out = time
    0x23, ...uleb128(gClock), 0x42, ...sleb(CLOCK_STEP_NS), 0x7c, 0x24, ...uleb128(gClock),
    0x20, 0x02, 0x23, ...uleb128(gClock), 0x37, 0x03, 0x00,
    0x41, 0x00,
  ]);
  const initBody = body([], [0x10, ...uleb128(init.index), 0x41, 0x00, 0x24, ...uleb128(gFlag)]);

  const replaced = new Map([
    [6, appendVec(m, globalSection, 3, globals)],
    [3, appendVec(m, funcSection, 3, Buffer.from([...uleb128(random.type), ...uleb128(clock.type), ...uleb128(initType)]))],
    [10, appendVec(newCode, { start: 0, end: newCode.length }, 3, concat([randomBody, clockBody, initBody]))],
    [7, concat([m.subarray(exportSection.start, init.at), Buffer.from(uleb128(fInit)), m.subarray(init.end, exportSection.end)])],
  ]);
  const out = [m.subarray(0, 8)];
  for (const s of sections) {
    const contents = replaced.get(s.id) ?? m.subarray(s.start, s.end);
    out.push(Buffer.from([s.id, ...uleb128(contents.length)]), contents);
  }
  return Buffer.concat(out);
}

function expect(condition, message) {
  if (!condition) throw new Error(`cannot patch the engine: ${message}`);
}

// The code section with every `call`/`return_call` of a key of `targets`
// calling its value instead. Only those instructions change, so every
// function is decoded, and copied unchanged unless it has one.
function redirectCalls(m, code, targets) {
  let [n, p] = uleb(m, code.start);
  const out = [Buffer.from(uleb128(n))];
  for (let i = 0; i < n; i++) {
    const [size, start] = uleb(m, p);
    const end = start + size;
    const edits = [];
    let q = start;
    let [locals, r] = uleb(m, q);
    for (let j = 0; j < locals; j++) {
      [, r] = uleb(m, r);
      r = valtype(m, r);
    }
    q = r;
    while (q < end) {
      const op = m[q++];
      if (op === 0x10 || op === 0x12) {
        const [callee, next] = uleb(m, q);
        if (targets.has(callee)) edits.push([q, next, targets.get(callee)]);
        q = next;
      } else if (op === 0xd2) {
        const [callee, next] = uleb(m, q);
        if (targets.has(callee)) throw new Error('cannot patch the engine: an import it redirects is used as a reference');
        q = next;
      } else {
        q = skipImmediates(m, op, q);
      }
    }
    if (q !== end) throw new Error(`cannot patch the engine: function ${i} does not decode`);
    if (edits.length === 0) {
      out.push(m.subarray(p, end));
    } else {
      const parts = [];
      let from = start;
      for (const [at, next, callee] of edits) {
        parts.push(m.subarray(from, at), Buffer.from(uleb128(callee)));
        from = next;
      }
      parts.push(m.subarray(from, end));
      const bodyBytes = Buffer.concat(parts);
      out.push(Buffer.from(uleb128(bodyBytes.length)), bodyBytes);
    }
    p = end;
  }
  if (p !== code.end) throw new Error('cannot patch the engine: the code section does not decode');
  return Buffer.concat(out);
}

// Past the immediates of instruction `op` (MVP, sign extension, saturating
// conversions, bulk memory, reference types, multi-value, tail calls: what
// the engine is built with). Anything else is an error rather than a guess.
function skipImmediates(m, op, q) {
  const leb = (k) => {
    for (let i = 0; i < k; i++) [, q] = uleb(m, q);
    return q;
  };
  if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) return q;
  if (op >= 0x02 && op <= 0x04) return skipSleb(m, q); // block type
  if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26) || op === 0xd0) return leb(1);
  if (op === 0x0e) {
    const [n, next] = uleb(m, q);
    q = next;
    return leb(n + 1);
  }
  if (op === 0x11 || op === 0x13) return leb(2);
  if (op === 0x1c) {
    const [n, next] = uleb(m, q);
    q = next;
    for (let i = 0; i < n; i++) q = valtype(m, q);
    return q;
  }
  if (op >= 0x28 && op <= 0x3e) {
    const [align, next] = uleb(m, q);
    q = next;
    return leb(align & 0x40 ? 2 : 1); // memory index when bit 6 is set, then offset
  }
  if (op === 0x3f || op === 0x40) return leb(1);
  if (op === 0x41 || op === 0x42) return skipSleb(m, q);
  if (op === 0x43) return q + 4;
  if (op === 0x44) return q + 8;
  if (op >= 0x45 && op <= 0xc4) return q;
  if (op === 0xfc) {
    const [sub, next] = uleb(m, q);
    q = next;
    if (sub <= 7) return q;
    if (sub === 8 || sub === 10 || sub === 12 || sub === 14) return leb(2);
    if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) return leb(1);
  }
  throw new Error(`cannot patch the engine: unknown instruction 0x${op.toString(16)}`);
}

function valtype(m, p) {
  const t = m[p];
  if ([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(t)) return p + 1;
  throw new Error(`cannot patch the engine: unknown value type 0x${t.toString(16)}`);
}

function valtypes(m, p) {
  let [n, q] = uleb(m, p);
  const start = q;
  for (let i = 0; i < n; i++) q = valtype(m, q);
  return [m.subarray(start, q).toString('hex'), q];
}

function limits(m, p) {
  const flags = m[p];
  let [, q] = uleb(m, p + 1);
  if (flags & 1) [, q] = uleb(m, q);
  return q;
}

// A vector section's contents with `count` more entries (`extra`) at its end.
function appendVec(m, s, count, extra) {
  const [n, p] = uleb(m, s.start);
  return concat([uleb128(n + count), m.subarray(p, s.end), extra]);
}

function body(locals, instructions) {
  const decl = locals.length ? [0x01, ...uleb128(locals.length), locals[0]] : [0x00];
  expect(locals.every((l) => l === locals[0]), 'locals of one type only');
  const bytes = [...decl, ...instructions, 0x0b];
  return Buffer.from([...uleb128(bytes.length), ...bytes]);
}

function concat(parts) {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

function uleb(m, p) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = m[p++];
    if (byte === undefined) throw new Error('cannot patch the engine: truncated');
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) return [result, p];
  }
}

function skipSleb(m, p) {
  while (m[p] & 0x80) p++;
  return p + 1;
}

function string(m, p) {
  const [n, q] = uleb(m, p);
  return [m.subarray(q, q + n).toString('utf8'), q + n];
}

function uleb128(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function sleb(value) {
  let v = BigInt.asIntN(64, BigInt(value));
  const out = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && !(byte & 0x40)) || (v === -1n && byte & 0x40)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}
