// One vitest preset for every package: source imports (no build step), a JSON report for the
// closing summary line, and generous timeouts for tests that drive real FUSE and PTY processes.
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export function vwsVitest(dir: string, extra: { testTimeout?: number; fileParallelism?: boolean } = {}) {
  const name = basename(dir);
  return defineConfig({
    resolve: { conditions: ['@vws/source'] },
    ssr: { resolve: { conditions: ['@vws/source'] } },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 30_000,
      hookTimeout: 60_000,
      fileParallelism: extra.fileParallelism ?? true,
      reporters: ['default', 'json'],
      outputFile: { json: resolve(dirname(fileURLToPath(import.meta.url)), '.vws-tmp/reports', `${name}.json`) },
    },
  });
}
