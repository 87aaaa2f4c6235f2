#!/usr/bin/env node
// Builds a Next.js App Router route file into a wasmroutes route component:
//
//   node guest-js/build.mjs app/api/posts/[id]/route.js out/posts_id.wasm
//
// 1. reads which HTTP methods the module exports (GET, POST, …);
// 2. writes a WIT world exporting exactly those `wasmroutes:api` interfaces,
//    so the host learns the methods from the component's type at load;
// 3. bundles the route, what it imports and shim.js into one module
//    (the engine loads only relative paths, so bare imports are resolved
//    here);
// 4. runs componentize-js (its bundled engine; no AOT, which downloads).
import { mkdtemp, readFile, writeFile, mkdir, copyFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import { init, parse } from 'es-module-lexer';
import { rolldown } from 'rolldown';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  console.error(`wasmroutes-build-js: ${message}`);
  process.exit(1);
}

const [source, output] = process.argv.slice(2);
if (!source || !output || process.argv.length !== 4) {
  fail('usage: build.mjs ROUTE_JS OUT_WASM');
}
const routePath = resolve(source);
let code;
try {
  code = await readFile(routePath, 'utf8');
} catch (error) {
  fail(`cannot read ${source}: ${error.message}`);
}

await init;
let exported;
try {
  exported = parse(code)[1].map((e) => e.n);
} catch (error) {
  fail(`${source}: not an ES module this build can read: ${error.message}`);
}
const methods = METHODS.filter((m) => exported.includes(m));
if (methods.length === 0) {
  fail(`${source} exports no route handler: export at least one of ${METHODS.join(', ')}`);
}

const work = await mkdtemp(join(tmpdir(), 'wasmroutes-js-'));
try {
  await mkdir(join(work, 'wit/deps/api'), { recursive: true });
  await mkdir(join(work, 'wit/deps/cli'), { recursive: true });
  await copyFile(join(here, '../wit/api.wit'), join(work, 'wit/deps/api/api.wit'));
  await copyFile(join(here, 'wit/cli-environment.wit'), join(work, 'wit/deps/cli/environment.wit'));
  const exports = methods.map((m) => `    export wasmroutes:api/${m.toLowerCase()}@0.1.0;`).join('\n');
  await writeFile(
    join(work, 'wit/route.wit'),
    `package wasmroutes:js-route;\n\nworld route {\n    import wasi:cli/environment@0.2.3;\n${exports}\n}\n`,
  );

  const entry = [
    `import * as route from ${JSON.stringify(routePath)};`,
    `import { adapt } from ${JSON.stringify(join(here, 'shim.js'))};`,
    // `export { … as delete }`: `delete` is a reserved word, so no binding
    // can have the interface's name; an export name can.
    ...methods.map((m) => `const handle${m} = adapt(route.${m});\nexport { handle${m} as ${m.toLowerCase()} };`),
  ].join('\n');
  await writeFile(join(work, 'entry.js'), `${entry}\n`);
  const bundle = await rolldown({
    input: join(work, 'entry.js'),
    external: [/^wasi:/, /^wasmroutes:/],
    logLevel: 'warn',
  });
  await bundle.write({ file: join(work, 'bundle.js'), format: 'esm' });
  await bundle.close();

  const { component } = await componentize({
    sourcePath: join(work, 'bundle.js'),
    witPath: join(work, 'wit'),
    worldName: 'route',
  });
  // Written beside and renamed into place: `serve --watch` reloads when the
  // file changes and must never read half of it.
  await mkdir(dirname(resolve(output)), { recursive: true });
  const partial = `${resolve(output)}.${process.pid}.partial`;
  await writeFile(partial, component);
  await rename(partial, resolve(output));
  console.error(`wasmroutes-build-js: ${source} → ${output} (${methods.join(', ')}; ${(component.length / 1e6).toFixed(1)} MB)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
