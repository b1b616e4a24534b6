// One vitest preset for every package: source imports (no build step), a JSON report for the
// closing summary line, and generous timeouts for tests that drive real FUSE and PTY processes.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * Mastra's shared provider suites (workspaces/_test-utils), kept outside the repo in shared/ beside
 * the checkout (VWS_MASTRA_TEST_UTILS overrides): run unmodified, their imports resolved to this
 * package's own @mastra/core and vitest. Missing is an error, never a skip.
 */
function mastraSuiteAliases(dir: string) {
  const suites = process.env.VWS_MASTRA_TEST_UTILS ?? resolve(root, '../shared/mastra-test-utils/src');
  if (!existsSync(resolve(suites, 'index.ts'))) throw new Error(`Mastra's shared provider suites are not at ${suites} (set VWS_MASTRA_TEST_UTILS to their src/ folder)`);
  const req = createRequire(resolve(dir, 'package.json'));
  // A package's folder (Vite then reads its exports with the import conditions, as for any import).
  const pkg = (name: string) => dirname(req.resolve(`${name}/package.json`));
  return [
    { find: /^@internal\/workspace-test-utils$/, replacement: resolve(suites, 'index.ts') },
    { find: /^@mastra\/core\/workspace$/, replacement: `${pkg('@mastra/core')}/dist/workspace/index.js` },
    { find: /^vitest$/, replacement: pkg('vitest') },
  ];
}

/**
 * `fuseTeardown`: fail the run (and clear them) if the tests leave FUSE mounts behind.
 * `mastraSuites`: resolve `@internal/workspace-test-utils` to Mastra's shared suites (see above).
 */
export function vwsVitest(dir: string, extra: { testTimeout?: number; fileParallelism?: boolean; fuseTeardown?: boolean; mastraSuites?: boolean } = {}) {
  // One report per package, named by its path (two packages may share a folder name).
  const name = relative(root, dir).replaceAll('/', '-') || 'root';
  return defineConfig({
    resolve: { conditions: ['@vws/source'], ...(extra.mastraSuites ? { alias: mastraSuiteAliases(dir) } : {}) },
    ssr: { resolve: { conditions: ['@vws/source'] } },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 30_000,
      hookTimeout: 60_000,
      fileParallelism: extra.fileParallelism ?? true,
      reporters: ['default', 'json'],
      ...(extra.fuseTeardown ? { globalSetup: [resolve(root, 'packages/fuse/test/global-setup.ts')] } : {}),
      outputFile: { json: resolve(root, '.vws-tmp/reports', `${name}.json`) },
    },
  });
}
