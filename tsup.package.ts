// The build every published package shares: ESM (.js + .d.ts) and CommonJS (.cjs + .d.cts), as Mastra's
// packages ship. A CommonJS app then loads our CommonJS build, which requires Mastra's CommonJS build: one
// copy of Mastra's error classes, so Mastra's own `instanceof` checks hold.
//
// A package lists its entries by name (`{ index: 'src/index.ts' }`); a new entry (a worker, a child
// process's main) is one more line there, and lands in dist/ beside the others as NAME.js and NAME.cjs.
// `shims` gives the CommonJS build a working `import.meta.url` (and ESM a `__dirname`), so entries that
// locate siblings (the spawner's main, the FUSE addon) work from both builds.
import { defineConfig, type Options } from 'tsup';

export function vwsPackage(entry: Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    shims: true,
    clean: true,
    target: 'node22',
    platform: 'node',
    // No source maps: they would carry this machine's paths and sources into the tarballs.
    sourcemap: false,
    splitting: true,
    ...extra,
  });
}
