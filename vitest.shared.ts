// One vitest preset for every package: source imports (no build step), a JSON report for the
// closing summary line, and generous timeouts for tests that drive real FUSE and PTY processes.
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * Mastra's shared provider and integration suites, run unmodified from ../shared/mastra-test-utils
 * (never copied into the repo). They live outside the workspace, so their bare imports (vitest,
 * @mastra/core) are resolved as if they were imported from `dir`, the package that runs them.
 */
export const MASTRA_TEST_UTILS = resolve(root, '../shared/mastra-test-utils/src');
export function mastraTestUtils(dir: string) {
  return {
    name: 'vws-mastra-test-utils',
    enforce: 'pre' as const,
    async resolveId(this: { resolve: (s: string, i: string, o: object) => Promise<unknown> }, source: string, importer: string | undefined) {
      if (!importer?.startsWith(MASTRA_TEST_UTILS) || source.startsWith('.') || source.startsWith('/')) return null;
      return this.resolve(source, join(dir, 'package.json'), { skipSelf: true });
    },
  };
}

/** `fuseTeardown`: fail the run (and clear them) if the tests leave FUSE mounts behind. */
export function vwsVitest(dir: string, extra: { testTimeout?: number; fileParallelism?: boolean; fuseTeardown?: boolean } = {}) {
  // One report per package, named by its path (two packages may share a folder name).
  const name = relative(root, dir).replaceAll('/', '-') || 'root';
  return defineConfig({
    resolve: { conditions: ['@vws/source'] },
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
