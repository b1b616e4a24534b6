// A workspace opened lazily from a store (chunks known by hash, fetched on first read) under the
// sandbox: through FUSE a command fetches what it reads; in sync mode the shadow holds every file,
// so the tree is fetched (in batches) when it is mounted, and commands see every byte.

import { createHash } from 'node:crypto';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { InodeFs, LazyChunks } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';

const sandboxes: PtySandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
});
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function lazyTree() {
  const src = new InodeFs();
  for (let d = 0; d < 5; d++) src.mkdir(`/d${d}`);
  for (let i = 0; i < 500; i++) src.writeFile(`/d${i % 5}/f${i}.txt`, `file ${i}\n`);
  const { manifest, chunks } = src.fork().exportManifest();
  const calls: string[][] = [];
  const lazy = new LazyChunks(async (hashes) => {
    calls.push(hashes);
    return new Map(hashes.map((h) => [h, chunks.get(h)!]));
  });
  return { src, fs: new InodeFilesystem({ fs: InodeFs.importManifest(manifest, { lazy }) }), calls };
}

describe('a lazily opened workspace in the sandbox', () => {
  it('through FUSE: cat of one file fetches that file only', async () => {
    const { src, fs, calls } = lazyTree();
    const sb = new PtySandbox();
    sandboxes.push(sb);
    await sb.mount(fs, '/');
    expect(sb.mountModes()).toEqual({ '/': 'fuse' });
    const r = await sb.executeCommand('cat d3/f3.txt && ls d4 | wc -l');
    expect(r.stdout).toBe(`${src.readFile('/d3/f3.txt', 'utf8')}100\n`);
    expect(calls.flat()).toEqual([sha(src.readFile('/d3/f3.txt'))]);
  });

  it('in sync mode: the tree is fetched in one batch at mount, and commands see every byte', async () => {
    const { src, fs, calls } = lazyTree();
    const sb = new PtySandbox({ syncMode: true });
    sandboxes.push(sb);
    await sb.mount(fs, '/');
    expect(sb.mountModes()).toEqual({ '/': 'sync' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(500);
    const r = await sb.executeCommand('cat d3/f3.txt d2/f497.txt && echo x >> d1/f1.txt');
    expect(r.stdout).toBe(src.readFile('/d3/f3.txt', 'utf8') + src.readFile('/d2/f497.txt', 'utf8'));
    expect(await fs.readFile('d1/f1.txt', { encoding: 'utf-8' })).toBe('file 1\nx\n');
  });
});
