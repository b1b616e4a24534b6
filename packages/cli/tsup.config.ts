// The built CLI (`pnpm --filter @vws/cli build`, run by scripts/setup.sh): one ESM bundle of the CLI and
// the workspace packages it uses, taken from their sources (the @vws/source condition), so `vws` starts
// without tsx and without those packages having to be built. bin/vws.js runs it while it is fresh
// (dist/inputs.json lists every source it was built from; a newer source sends bin/vws.js back to tsx).
//
// - Mastra (a peer) and the other npm packages stay external (loaded from node_modules, lazily where the
//   source imports them lazily: chunks follow the dynamic imports).
// - Native addons load with createRequire(import.meta.url) in their own package (node-pty in
//   sandbox-pty, fuse-native in fuse). Bundled, that module's import.meta.url would be a chunk in
//   dist/, where those packages are not resolvable, so it is rewritten to the original source file.
// - The spawner's entry is built next to the chunks, where Spawner (bundled) looks for spawner-main.js;
//   so are the exec daemon's (daemon.js), where the exec client looks for it, and the FUSE serving
//   thread's (serve-worker.js), where @vws/fuse (bundled) looks for it.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = resolve(here, '..');
const out = join(here, 'dist');
// Sources changed after this moment are newer than the build.
const startedAt = Date.now();

export default defineConfig({
  entry: { main: 'src/main.ts', daemon: 'src/daemon/main.ts', 'vault-store': 'src/vault-store.ts', 'spawner-main': '../sandbox-pty/src/spawner-main.ts', 'serve-worker': '../fuse/src/serve-worker.ts' },
  format: ['esm'],
  outDir: out,
  target: 'node22',
  platform: 'node',
  splitting: true,
  clean: true,
  dts: { entry: { 'vault-store': 'src/vault-store.ts' } },
  noExternal: [/^@vws\//],
  // Peers (also devDependencies here, which tsup would otherwise bundle, CommonJS requires and all).
  external: [/^@mastra\//, 'zod'],
  metafile: true,
  esbuildOptions(options) {
    options.conditions = ['@vws/source'];
  },
  esbuildPlugins: [
    {
      name: 'require-from-own-package',
      setup(build) {
        build.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.ts$/ }, (args) => {
          const text = readFileSync(args.path, 'utf8');
          if (!text.includes('createRequire(import.meta.url)')) return undefined;
          const rel = relative(out, args.path);
          return { contents: text.replaceAll('createRequire(import.meta.url)', `createRequire(new URL(${JSON.stringify(rel)}, import.meta.url))`), loader: 'ts' };
        });
      },
    },
  ],
  async onSuccess() {
    // The workspace sources this build holds, for bin/vws.js's freshness check.
    const meta = JSON.parse(readFileSync(join(out, 'metafile-esm.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs)
      .map((p) => resolve(here, p))
      .filter((p) => p.startsWith(`${workspace}/`) && !p.includes('/node_modules/'))
      .map((p) => relative(here, p));
    rmSync(join(out, 'metafile-esm.json'));
    // Written last: until it exists (a build under way), bin/vws.js runs the sources.
    writeFileSync(join(out, 'inputs.json'), `${JSON.stringify({ builtAt: startedAt, inputs }, null, 1)}\n`);
  },
});
