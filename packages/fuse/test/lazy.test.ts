// A tree opened lazily (its chunks known by hash, fetched on first read, as @vws/store opens one)
// served through a real FUSE mount: a command gets the bytes it reads and nothing more; the kernel's
// reads and writes of chunks not fetched yet wait for them (answered later) while other requests
// go on; a chunk that cannot be fetched is EIO for that file only.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { InodeFs, LazyChunks, fetching } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { fuseProblem } from '../src/driver.js';

const run = promisify(execFile);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const mounts: Mount[] = [];
afterEach(async () => {
  for (const m of mounts.splice(0)) await m.unmount();
});

/** 2,000 small files and one of 5 chunks, imported lazily; the loader answers slowly and records what it is asked. */
function lazyTree(options: { damage?: string; delayMs?: number; gate?: Promise<void> } = {}) {
  const src = new InodeFs({ clock: () => 42n });
  for (let d = 0; d < 10; d++) src.mkdir(`/d${d}`);
  for (let i = 0; i < 2000; i++) src.writeFile(`/d${i % 10}/f${i}.txt`, `file ${i}\n`.repeat(1 + (i % 5)));
  src.writeFile('/big.bin', new Uint8Array(5 * 16384).map((_, i) => (i * 13) % 251));
  const { manifest, chunks } = src.fork().exportManifest();
  const asked: string[] = [];
  const lazy = new LazyChunks(async (hashes) => {
    asked.push(...hashes);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 20));
    await options.gate;
    if (options.damage && hashes.includes(options.damage)) throw Object.assign(new Error(`chunk ${options.damage} is damaged`), { name: 'ChunkHashMismatchError' });
    return new Map(hashes.map((h) => [h, chunks.get(h)!]));
  });
  return { src, fs: InodeFs.importManifest(manifest, { lazy, clock: () => 42n }), asked };
}

describe.each([
  ['on the serving thread', false],
  ['inline', true],
])('a lazily opened tree, mounted (%s)', (_name, inline) => {
  it('FUSE needs to be here', () => {
    expect(fuseProblem()).toBeUndefined();
  });

  it('cat of one file fetches that file\'s chunks only; ls and stat fetch nothing', async () => {
    const { src, fs, asked } = lazyTree();
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    const ls = await run('ls', [`${m.path}/d3`]);
    expect(ls.stdout.split('\n').filter(Boolean)).toHaveLength(200);
    const stat = await run('stat', ['-c', '%s', `${m.path}/big.bin`]);
    expect(stat.stdout.trim()).toBe('81920');
    expect(asked).toEqual([]);
    const cat = await run('cat', [`${m.path}/d3/f13.txt`]);
    expect(cat.stdout).toBe(src.readFile('/d3/f13.txt', 'utf8'));
    expect(asked).toEqual([sha(src.readFile('/d3/f13.txt'))]);
    // A range of the big file: the chunk under it (and what the kernel's readahead asks for).
    const dd = await run('dd', [`if=${m.path}/big.bin`, 'bs=4096', 'skip=9', 'count=1', 'status=none'], { encoding: 'buffer' });
    expect(Buffer.compare(dd.stdout, src.readFile('/big.bin').subarray(9 * 4096, 10 * 4096))).toBe(0);
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.length).toBeLessThanOrEqual(1 + 5);
  });

  it('many files read one after the other: every byte is right, each chunk asked for once', async () => {
    const { src, fs, asked } = lazyTree({ delayMs: 1 });
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    const { stdout } = await run('sh', ['-c', `cat ${m.path}/d7/* | sha256sum`]);
    const want = src
      .readdir('/d7')
      .sort()
      .map((n) => src.readFile(`/d7/${n}`, 'utf8'))
      .join('');
    expect(stdout.split(' ')[0]).toBe(createHash('sha256').update(want).digest('hex'));
    expect(asked.length).toBeLessThanOrEqual(200);
    expect(new Set(asked).size).toBe(asked.length);
  });

  it('a read waiting for its chunks does not hold up other requests', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { src, fs } = lazyTree({ gate });
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    let catDone = false;
    const cat = run('cat', [`${m.path}/d8/f8.txt`]).then((r) => {
      catDone = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 200)); // the cat is parked by now
    expect((await run('ls', [`${m.path}/d9`])).stdout.split('\n').filter(Boolean)).toHaveLength(200);
    await run('sh', ['-c', `echo new > ${m.path}/new.txt && cat ${m.path}/new.txt`]);
    expect(catDone).toBe(false);
    open();
    expect((await cat).stdout).toBe(src.readFile('/d8/f8.txt', 'utf8'));
  });

  it('an append through the mount waits for the last chunk, then lands; the API sees it', async () => {
    const { src, fs } = lazyTree();
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    await run('sh', ['-c', `printf 'more\\n' >> ${m.path}/d1/f21.txt`]);
    const want = `${src.readFile('/d1/f21.txt', 'utf8')}more\n`;
    expect((await run('cat', [`${m.path}/d1/f21.txt`])).stdout).toBe(want);
    expect(await fetching(() => fs.readFile('/d1/f21.txt', 'utf8'))).toBe(want);
  });

  it('a truncate or hole punch that cuts into a chunk not fetched yet waits for it, then lands', async () => {
    const { src, fs } = lazyTree();
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    await run('truncate', ['-s', '20000', `${m.path}/big.bin`]);
    await run('fallocate', ['--punch-hole', '--offset', '100', '--length', '50', `${m.path}/big.bin`]);
    const want = Buffer.from(src.readFile('/big.bin').subarray(0, 20000));
    want.fill(0, 100, 150);
    const got = await run('cat', [`${m.path}/big.bin`], { encoding: 'buffer' });
    expect(Buffer.compare(got.stdout, want)).toBe(0);
    expect(Buffer.compare(Buffer.from(await fetching(() => fs.readFile('/big.bin'))), want)).toBe(0);
  });

  it('API reads of the mounted engine fetch what they read (fetching, prefetch)', async () => {
    const { src, fs, asked } = lazyTree();
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    expect(await fetching(() => fs.readFile('/d2/f2.txt', 'utf8'))).toBe(src.readFile('/d2/f2.txt', 'utf8'));
    expect(asked).toEqual([sha(src.readFile('/d2/f2.txt'))]);
    const r = await fs.prefetch('/d4');
    expect(r.chunks).toBe(200);
    expect(fs.readFile('/d4/f4.txt', 'utf8')).toBe(src.readFile('/d4/f4.txt', 'utf8'));
    expect(asked.length).toBe(201);
  });

  it('a chunk that cannot be fetched is EIO for that file; the rest of the mount works', async () => {
    const bad = new TextEncoder().encode('file 5\n'.repeat(1));
    const { src, fs } = lazyTree({ damage: sha(bad) });
    const m = await mount(fs, undefined, { inline });
    mounts.push(m);
    const err = await run('cat', [`${m.path}/d5/f5.txt`]).catch((e) => e);
    expect(err.stderr).toMatch(/Input\/output error/);
    expect((await run('cat', [`${m.path}/d6/f6.txt`])).stdout).toBe(src.readFile('/d6/f6.txt', 'utf8'));
    const api = await fetching(() => fs.readFile('/d5/f5.txt')).catch((e) => e);
    expect(api.message).toMatch(/damaged/);
  });
});
