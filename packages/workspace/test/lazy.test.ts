// The composer over a workspace opened lazily (chunks fetched on first read, as @vws/store opens
// one): the diff tool fetches the changed files of both sides to make its patch; exportTo fetches
// the tree it writes out.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InodeFs, LazyChunks } from '@vws/inode-fs';
import { afterEach, expect, it } from 'vitest';
import { createVwsWorkspace, diffSince, diffSinceFetched, type VwsWorkspace } from '../src/index.js';

const open: VwsWorkspace[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) await v.destroy();
});

function lazyEngine() {
  const src = new InodeFs();
  src.mkdir('/src');
  for (let i = 0; i < 300; i++) src.writeFile(`/src/f${i}.ts`, `export const v${i} = ${i};\n`);
  const { manifest, chunks } = src.fork().exportManifest();
  const asked: string[] = [];
  const lazy = new LazyChunks(async (hashes) => {
    asked.push(...hashes);
    return new Map(hashes.map((h) => [h, chunks.get(h)!]));
  });
  return { engine: InodeFs.importManifest(manifest, { lazy }), asked };
}

it('vws_diff on a lazily opened workspace fetches the changed files (both sides) and gives the right patch', async () => {
  const { engine, asked } = lazyEngine();
  const vws = await createVwsWorkspace({ engine });
  open.push(vws);
  vws.filesystem.checkpoint('start');
  await vws.filesystem.writeFile('src/f7.ts', 'export const v7 = 70;\n');
  expect(asked).toEqual([]);
  expect(() => diffSince(vws, 'start', true)).toThrow(/not fetched/);
  const d = await diffSinceFetched(vws, 'start', true);
  expect(d.modified).toEqual(['/src/f7.ts']);
  expect(d.patch).toContain('-export const v7 = 7;');
  expect(d.patch).toContain('+export const v7 = 70;');
  expect(asked).toHaveLength(1); // the old f7 (the new one is here)
});

it('exportTo a directory fetches the tree and writes every byte', async () => {
  const { engine } = lazyEngine();
  const vws = await createVwsWorkspace({ engine });
  open.push(vws);
  const dir = mkdtempSync(join(tmpdir(), 'vws-lazy-export-'));
  try {
    await vws.exportTo(join(dir, 'out'));
    expect(readFileSync(join(dir, 'out/src/f299.ts'), 'utf8')).toBe('export const v299 = 299;\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
