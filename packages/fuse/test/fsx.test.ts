// vws-fsx (test/fsx/vws-fsx.c, built here) on the mount: 100,000 seeded random operations (reads,
// writes, mmap reads and writes, truncates, fallocate in every mode we serve, punch holes, zero
// ranges, fsync, reopen), each checked against a model; then the engine must hold the bytes the
// kernel showed.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InodeFs } from '@vws/inode-fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mount } from '../src/index.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const bin = join(mkdtempSync(join(tmpdir(), 'vws-fsx-')), 'vws-fsx');
afterAll(() => rmSync(dirname(bin), { recursive: true, force: true }));

describe('vws-fsx on the mount', () => {
  it('100,000 operations with fallocate, punch hole and zero range hold every check; the engine agrees', async () => {
    await run('cc', ['-O2', '-Wall', '-Werror', '-o', bin, join(here, 'fsx/vws-fsx.c')]);
    const fs = new InodeFs();
    const m = await mount(fs);
    try {
      const { stdout } = await run(bin, ['-N', '100000', '-S', '20261130', join(m.path, 'fsx.bin')], { maxBuffer: 1 << 20 });
      expect(stdout).toMatch(/100000 operations.*all checks held/);
      for (const op of ['fallocate', 'falloc-keep-size', 'punch-hole', 'zero-range', 'mapwrite']) expect(stdout).toMatch(new RegExp(`${op} [1-9]`));
      const seen = await readFile(join(m.path, 'fsx.bin'));
      expect(Buffer.from(fs.readFile('/fsx.bin') as Uint8Array).equals(seen)).toBe(true);
    } finally {
      await m.unmount();
    }
  });
});
