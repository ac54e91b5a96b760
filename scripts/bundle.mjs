// Bundles the CLI and each worker thread's script into one CommonJS file apiece under dist/bundle/, so that a
// command starts by compiling one file instead of resolving and linking ~150 ES modules (README, "Start-up").
// Run by `npm run build` after tsc; the library (dist/index.js) stays ESM.
import { build } from 'esbuild';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const out = 'dist/bundle';
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
// Every .js file in dist/bundle is CommonJS, whatever the package's own "type" says.
fs.writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');

const common = {
  entryPoints: {
    // The program, started by repo.js (below) for every command it does not answer itself.
    main: 'src/cli/main.ts',
    // Workers are found by name beside the module that starts them (core/worker-script.ts): same names here.
    'seal-worker': 'src/repository/seal-worker.ts',
    'restore-worker': 'src/restorer/restore-worker.ts',
    'verify-worker': 'src/maintenance/verify-worker.ts',
    worker: 'src/analyze/worker.ts',
    'scan-worker': 'src/archiver/scan-worker.ts',
  },
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Native addons and WebAssembly load files relative to their own package. The AWS SDK, ssh2, the YAML and
  // cron parsers and the config schema library (zod) are large and only some commands load them (on demand),
  // so they stay out of the file that every command compiles.
  external: [
    'zstd-napi',
    '@napi-rs/blake-hash',
    'fastcdc-wasm',
    '@aws-sdk/*',
    'yaml',
    'cron-parser',
    'ssh2',
    'ssh-config',
    'zod',
  ],
  // Less to read and pre-parse at every start; identifiers keep their names so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  // import.meta.url locates worker scripts; in CommonJS it is this file's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
};

await build(common);
// What the `repo` command runs: answers `repo version` and an acknowledged WAL push (cli/entry.ts) without
// compiling main.js (~850 KB); requires it for everything else. `repo version`: 0.19 → 0.12 s of CPU.
// main.js is CommonJS: an `import('./main.js')` would go through the ESM loader, which scans the whole bundle
// for its export names (cjs-module-lexer) and keeps that work's memory. Without dynamic import, esbuild
// writes it as a require() instead. `repo snapshots` (kernel repository, medians of 10): 0.636 -> 0.592 s
// wall, 0.70 -> 0.59 s CPU, 99.7 -> 84.7 MiB peak RSS.
await build({
  ...common,
  entryPoints: { repo: 'src/cli/entry.ts' },
  external: [...common.external, './main.js'],
  supported: { 'dynamic-import': false },
});
// `repo --help` without loading every command (src/cli/help-manifest.ts): the full program's overview, described.
const { helpManifest } = createRequire(import.meta.url)(path.resolve(`${out}/main.js`));
fs.writeFileSync(`${out}/help.json`, JSON.stringify(await helpManifest()) + '\n');
// `repo ui` and `repo report` serve and inline these files: the chart library from its own package (no CDN,
// nothing fetched at run time) and the UI's script and style sheet (src/ui/assets.ts finds them here).
fs.mkdirSync(`${out}/ui`, { recursive: true });
for (const f of ['uPlot.iife.min.js', 'uPlot.min.css'])
  fs.copyFileSync(`node_modules/uplot/dist/${f}`, `${out}/ui/${f}`);
for (const f of ['app.js', 'plots.js', 'app.css']) fs.copyFileSync(`src/ui/client/${f}`, `${out}/ui/${f}`);
// A setting read only when a process starts, so it sits on the #! line (`env -S` splits it): at most two
// glibc malloc arenas. Every thread-pool thread that allocated got an arena of its own, holding memory it
// no longer used (backup of 350 MiB of sources: peak RSS 232 → 209 MiB, same CPU).
// The young generation keeps V8's default (16 MiB semi-spaces): 32 MiB ones cost 32 MiB of peak RSS and,
// since the directory cache spares most of the tree walk, no longer save CPU (kernel tree, unchanged
// re-backup: 154 vs 186 MiB and 0.93x the CPU; first backup: 276 vs 299 MiB, CPU within noise).
const cli = `${out}/repo.js`;
const code = fs.readFileSync(cli, 'utf8').replace(/^#!.*\n/, '#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node\n');
fs.writeFileSync(cli, code);
fs.chmodSync(cli, 0o755);
