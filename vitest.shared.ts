// One vitest preset for every package: source imports (no build step), a JSON report for the
// closing summary line, and generous timeouts for tests that drive real FUSE and PTY processes.
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

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
