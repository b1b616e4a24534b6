// The built CLI (`pnpm --filter @vws/cli build`, run by scripts/setup.sh): one ESM bundle of the CLI and
// the workspace packages it uses, taken from their sources (the @vws/source condition), so `vws` starts
// without tsx and without those packages having to be built. bin/vws.js runs it while it is fresh
// (dist/inputs.json lists every source it was built from; a newer source sends bin/vws.js back to tsx).
//
// - Mastra (a peer) and the other npm packages stay external (loaded from node_modules, lazily where the
//   source imports them lazily: chunks follow the dynamic imports).
// - Native addons load with createRequire(import.meta.url) in their own package (node-pty in
//   sandbox-pty, our addon in fuse). Bundled, that module's import.meta.url would be a chunk in
//   dist/, where those packages are not resolvable, so it is rewritten to the original source file's
//   place in that package, found by Node's resolution (a sibling in the monorepo, hoisted or nested
//   under node_modules when installed).
// - The library entry (vault-store) is built as CommonJS too, into dist/cjs/.
// - The spawner's entry is built next to the chunks, where Spawner (bundled) looks for spawner-main.js;
//   so are the exec daemon's (daemon.js), where the exec client looks for it, and the FUSE serving
//   thread's (serve-worker.js), where @vws/fuse (bundled) looks for it. Any other entry a bundled
//   package starts (a worker thread's, a child process's) must be listed here too, under the name that
//   package's tsup.config.ts gives it.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = resolve(here, '..');
const out = join(here, 'dist');
// Sources changed after this moment are newer than the build.
const startedAt = Date.now();

const requireFromOwnPackage = {
  name: 'require-from-own-package',
  setup(build: { onLoad: (o: { filter: RegExp }, cb: (a: { path: string }) => { contents: string; loader: 'ts' } | undefined) => void }) {
    build.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('createRequire(import.meta.url)')) return undefined;
      const pkgDir = args.path.slice(0, args.path.indexOf('/src/'));
      const { name } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name: string };
      const base = `new URL(${JSON.stringify(`./${relative(pkgDir, args.path)}`)}, import.meta.resolve(${JSON.stringify(`${name}/package.json`)}))`;
      return { contents: text.replaceAll('createRequire(import.meta.url)', `createRequire(${base})`), loader: 'ts' };
    });
  },
};
const bundled = {
  outDir: out,
  target: 'node22',
  platform: 'node',
  noExternal: [/^@vws\//],
  // Peers (also devDependencies here, which tsup would otherwise bundle, CommonJS requires and all).
  external: [/^@mastra\//, 'zod'],
  esbuildOptions(options: { conditions?: string[] }) {
    options.conditions = ['@vws/source'];
  },
  esbuildPlugins: [requireFromOwnPackage],
} as const;

export default defineConfig([
  {
    ...bundled,
    entry: { main: 'src/main.ts', daemon: 'src/daemon/main.ts', 'vault-store': 'src/vault-store.ts', 'spawner-main': '../sandbox-pty/src/spawner-main.ts', 'serve-worker': '../fuse/src/serve-worker.ts' },
    format: ['esm'],
    splitting: true,
    // Not cleaned here: the build script empties dist/ once, before both builds.
    dts: { entry: { 'vault-store': 'src/vault-store.ts' } },
    metafile: true,
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
  },
  {
    ...bundled,
    // The library entry for CommonJS apps (require('@vws/cli')).
    entry: { 'vault-store': 'src/vault-store.ts' },
    outDir: join(out, 'cjs'),
    format: ['cjs'],
    shims: true,
    dts: true,
  },
]);
