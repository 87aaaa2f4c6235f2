#!/usr/bin/env node
// Builds a Next.js App Router route file (route.js, .mjs, .ts, .mts) into a
// wasmroutes route component:
//
//   node guest-js/build.mjs [--aot WEVAL] app/api/posts/[id]/route.js out/posts_id.wasm
//
// 1. bundles the route module on its own (rolldown, which also strips
//    TypeScript) to learn which HTTP methods it exports (GET, POST, …),
//    however it exports them (`export function`, `export { x as GET }`,
//    `export * from`);
// 2. bundles the route, what it imports and shim.js into one module (the
//    engine loads only relative paths, so bare imports are resolved here;
//    `next/server`, `next/headers`, `@wasmroutes/kv` and `@wasmroutes/sql`
//    are ours);
// 3. writes a WIT world exporting exactly those methods' `wasmroutes:api`
//    interfaces, so the host learns the methods from the component's type
//    at load (the streaming ones, `get-streaming` …, for every method but
//    HEAD and OPTIONS: whether a `Response` streams is known only when the
//    handler returns it; shim.js answers whole through the same export),
//    and importing the `wasi:keyvalue` and `wasmroutes:sql`
//    interfaces the bundle uses (and no other: a route that opens no
//    database imports no database interface);
// 4. runs componentize-js (its bundled engine) so that the same sources and
//    toolchain give the same bytes (reproducible.mjs): the host's compile
//    cache, keyed by the component's hash, then hits after an unchanged
//    rebuild.
//
// `--aot WEVAL` builds with componentize-js's AOT engine instead: the weval
// binary at WEVAL (never the one componentize-js would download) partially
// evaluates the interpreter against the route's bytecode. Faster for
// CPU-heavy handlers, dearer for small ones (bench/README.md). weval cannot
// remap directories as wizer can, so such a component holds this build's
// temporary paths and is not byte-reproducible.
//
// It reads only files beside it and the WIT in ../wit: the `wasmroutes`
// binary carries exactly those (host/src/js_toolchain.rs, whose test fails
// if a file here is missing from its list).
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, readFile, writeFile, mkdir, copyFile, readdir, rename, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import { rolldown } from 'rolldown';

import { deterministicEngine, relocated } from './reproducible.mjs';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
// Methods whose answer can stream; HEAD and OPTIONS answers are whole.
const STREAMING = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
// The interface of `responder` and `body-writer`, which shim.js imports;
// the version must be wit/api.wit's.
const API_TYPES = /^wasmroutes:api\/types@(.+)$/;
const here = dirname(fileURLToPath(import.meta.url));
// componentize-js's default engine (the release build of StarlingMonkey).
const ENGINE = fileURLToPath(
  new URL(
    '../lib/starlingmonkey_embedding.wasm',
    import.meta.resolve?.('@bytecodealliance/componentize-js') ??
      new URL('node_modules/@bytecodealliance/componentize-js/src/componentize.js', import.meta.url),
  ),
);

// Imports a route may use that are ours, not npm packages.
const ALIASES = {
  'next/server': join(here, 'next-server.js'),
  'next/headers': join(here, 'next-headers.js'),
  '@wasmroutes/kv': join(here, 'kv.js'),
  '@wasmroutes/sql': join(here, 'sql.js'),
};
// Imports the engine resolves against the WIT world.
const EXTERNAL = [/^wasi:/, /^wasmroutes:/];
// The wasi:keyvalue interfaces a bundle may import, by import specifier.
const KEYVALUE = /^wasi:keyvalue\/(store|atomics|batch)@0\.2\.0-draft2$/;
// The SQL interface, imported by `@wasmroutes/sql` (or a route itself).
const SQL = 'wasmroutes:sql/types@0.1.0';

function fail(message) {
  console.error(`wasmroutes-build-js: ${message}`);
  process.exit(1);
}

async function bundle(input) {
  const build = await rolldown({
    input,
    external: EXTERNAL,
    resolve: { alias: ALIASES },
    logLevel: 'warn',
    // No `// <module path>` comment per module: those paths are relative to
    // the working directory, and the component must not depend on it.
    experimental: { attachDebugInfo: 'none' },
  });
  try {
    const { output } = await build.generate({ format: 'esm' });
    return output[0];
  } finally {
    await build.close();
  }
}

// componentize-js on `work`'s bundle.js and WIT, so that the component
// depends on nothing but them and the toolchain (see reproducible.mjs): the
// engine is patched (its start-up randomness seeded by the bundle), the
// wizer it runs sees fixed paths, and the working directory is `work`
// (componentize-js names the bundle relative to the working directory when
// it is inside it, as it could be in a parent).
async function componentizeReproducibly(work) {
  const seed = createHash('sha256').update(await readFile(join(work, 'bundle.js'))).digest().readBigUInt64LE(0);
  const engine = join(work, 'engine.wasm');
  await writeFile(engine, deterministicEngine(await readFile(ENGINE), seed));
  const cwd = process.cwd();
  process.chdir(work);
  try {
    return await relocated(() =>
      componentize({ sourcePath: join(work, 'bundle.js'), witPath: join(work, 'wit'), worldName: 'route', engine }),
    );
  } finally {
    process.chdir(cwd);
  }
}

// Ahead of time: what componentize-js needs besides the bundle and WIT.
// The engine is its own AOT build, and weval's start-up randomness is
// real: a seed derived from the bundle would buy no reproducibility here.
async function componentizeAheadOfTime(work, wevalBin) {
  const cwd = process.cwd();
  process.chdir(work);
  try {
    return await componentize({
      sourcePath: join(work, 'bundle.js'),
      witPath: join(work, 'wit'),
      worldName: 'route',
      enableAot: true,
      wevalBin,
    });
  } finally {
    process.chdir(cwd);
  }
}

const args = process.argv.slice(2);
let wevalBin = null;
if (args[0] === '--aot') {
  wevalBin = args[1];
  args.splice(0, 2);
}
const [source, output] = args;
if (!source || !output || args.length !== 2 || wevalBin === undefined) {
  fail('usage: build.mjs [--aot WEVAL] ROUTE_FILE OUT_WASM');
}
if (wevalBin !== null) {
  try {
    await access(wevalBin, fsConstants.X_OK);
  } catch (error) {
    fail(`--aot: cannot run weval at ${wevalBin}: ${error.message}`);
  }
}
const routePath = resolve(source);
try {
  await access(routePath);
} catch (error) {
  fail(`cannot read ${source}: ${error.message}`);
}

let exported;
try {
  exported = (await bundle(routePath)).exports;
} catch (error) {
  fail(`${source}: cannot be bundled: ${error.message}`);
}
const methods = METHODS.filter((m) => exported.includes(m));
if (methods.length === 0) {
  fail(`${source} exports no route handler: export at least one of ${METHODS.join(', ')}`);
}

const work = await mkdtemp(join(tmpdir(), 'wasmroutes-js-'));
try {
  const exportName = (m) => (STREAMING.has(m) ? `${m.toLowerCase()}Streaming` : m.toLowerCase());
  const entry = [
    // First, so that the route's own modules see the watched `Response`.
    `import ${JSON.stringify(join(here, 'streams.js'))};`,
    `import * as route from ${JSON.stringify(routePath)};`,
    `import { adapt, adaptStreaming } from ${JSON.stringify(join(here, 'shim.js'))};`,
    // `export { … as delete }`: `delete` is a reserved word, so no binding
    // can have the interface's name; an export name can.
    ...methods.map(
      (m) =>
        `const handle${m} = ${STREAMING.has(m) ? 'adaptStreaming' : 'adapt'}(route.${m});\nexport { handle${m} as ${exportName(m)} };`,
    ),
  ].join('\n');
  await writeFile(join(work, 'entry.js'), `${entry}\n`);
  const chunk = await bundle(join(work, 'entry.js'));
  await writeFile(join(work, 'bundle.js'), chunk.code);

  const unknown = chunk.imports.filter(
    (i) => EXTERNAL.some((e) => e.test(i)) && !i.startsWith('wasi:cli/environment@') && !API_TYPES.test(i),
  );
  const keyvalue = unknown.filter((i) => KEYVALUE.test(i));
  const sql = unknown.filter((i) => i === SQL);
  const other = unknown.filter((i) => !KEYVALUE.test(i) && i !== SQL);
  if (other.length) {
    fail(
      `${source} imports ${other.join(', ')}: a route may import wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2 and ${SQL}`,
    );
  }

  await mkdir(join(work, 'wit/deps/api'), { recursive: true });
  await mkdir(join(work, 'wit/deps/cli'), { recursive: true });
  const apiWit = await readFile(join(here, '../wit/api.wit'), 'utf8');
  const apiVersion = /^package wasmroutes:api@([^;]+);/m.exec(apiWit)?.[1];
  if (!apiVersion) fail('wit/api.wit does not declare `package wasmroutes:api@<version>;`');
  const shimVersion = chunk.imports.map((i) => API_TYPES.exec(i)?.[1]).find(Boolean);
  if (shimVersion && shimVersion !== apiVersion) {
    fail(`shim.js imports wasmroutes:api/types@${shimVersion}, but wit/api.wit is @${apiVersion}: make them agree`);
  }
  await writeFile(join(work, 'wit/deps/api/api.wit'), apiWit);
  await copyFile(join(here, 'wit/cli-environment.wit'), join(work, 'wit/deps/cli/environment.wit'));
  if (keyvalue.length) {
    await mkdir(join(work, 'wit/deps/keyvalue'), { recursive: true });
    for (const file of await readdir(join(here, '../wit/deps/keyvalue'))) {
      await copyFile(join(here, '../wit/deps/keyvalue', file), join(work, 'wit/deps/keyvalue', file));
    }
  }
  if (sql.length) {
    await mkdir(join(work, 'wit/deps/sql'), { recursive: true });
    await copyFile(join(here, '../wit/deps/sql/sql.wit'), join(work, 'wit/deps/sql/sql.wit'));
  }
  const lines = [
    '    import wasi:cli/environment@0.2.3;',
    ...keyvalue.map((i) => `    import ${i};`),
    ...sql.map((i) => `    import ${i};`),
    ...methods.map(
      (m) => `    export wasmroutes:api/${m.toLowerCase()}${STREAMING.has(m) ? '-streaming' : ''}@${apiVersion};`,
    ),
  ];
  await writeFile(join(work, 'wit/route.wit'), `package wasmroutes:js-route;\n\nworld route {\n${lines.join('\n')}\n}\n`);

  const { component } = wevalBin ? await componentizeAheadOfTime(work, wevalBin) : await componentizeReproducibly(work);
  // Written beside and renamed into place: `serve --watch` reloads when the
  // file changes and must never read half of it.
  await mkdir(dirname(resolve(output)), { recursive: true });
  const partial = `${resolve(output)}.${process.pid}.partial`;
  await writeFile(partial, component);
  await rename(partial, resolve(output));
  const size = (component.length / 1e6).toFixed(1);
  const aot = wevalBin ? ', ahead of time' : '';
  console.error(`wasmroutes-build-js: ${source} → ${output} (${methods.join(', ')}${aot}; ${size} MB)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
