import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CHUNK, ChunkNotFetchedError, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FsError, InodeFs, LazyChunks, O_RDWR, SnapshotError, fetching } from '../src/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function tree(): InodeFs {
  const fs = new InodeFs({ clock: () => 42n });
  fs.mkdir('/a/b', { recursive: true });
  fs.writeFile('/a/small.txt', 'hello');
  fs.writeFile('/a/b/big.bin', Uint8Array.from({ length: 3 * CHUNK + 100 }, (_, i) => i % 251));
  fs.writeFile('/a/same1', 'dup');
  fs.writeFile('/a/same2', 'dup');
  fs.symlink('a/b', '/link');
  fs.writeFile('/sparse', '');
  fs.truncate('/sparse', 5 * CHUNK);
  const fh = fs.open(fs.inoOf('/sparse'), O_RDWR);
  fs.write(fh, new Uint8Array([9]), 4 * CHUNK);
  fs.release(fh);
  return fs;
}

/** A lazy import of `fs` whose loader reads from its exported chunks and records every call. */
function lazyCopy(fs: InodeFs, batch?: number) {
  const { manifest, chunks } = fs.fork().exportManifest();
  const calls: string[][] = [];
  const lazy = new LazyChunks(async (hashes) => {
    calls.push(hashes);
    await new Promise((r) => setTimeout(r, 1));
    return new Map(hashes.map((h) => [h, chunks.get(h)!]));
  }, batch);
  const back = InodeFs.importManifest(manifest, { lazy });
  return { back, calls, lazy, chunks, manifest };
}

describe('lazy import (chunks by hash, fetched on read)', () => {
  it('stat, ls, sizes and usage need no bytes; a read of unfetched bytes throws a typed error and changes nothing', () => {
    const fs = tree();
    const { back, calls } = lazyCopy(fs);
    expect(back.readdir('/a').sort()).toEqual(['b', 'same1', 'same2', 'small.txt']);
    expect(back.stat('/a/b/big.bin').size).toBe(3 * CHUNK + 100);
    expect(back.stat('/a/b/big.bin').blocks).toBe(fs.stat('/a/b/big.bin').blocks);
    expect(back.usage()).toEqual(fs.usage());
    const err = (() => {
      try {
        back.readFile('/a/small.txt');
      } catch (e) {
        return e;
      }
    })() as ChunkNotFetchedError;
    expect(err).toBeInstanceOf(ChunkNotFetchedError);
    expect(err.hashes).toEqual([sha(new TextEncoder().encode('hello'))]);
    expect(err.message).toMatch(/prefetch/);
    expect(() => back.fingerprint()).toThrow(ChunkNotFetchedError);
    expect(() => back.snapshot()).toThrow(ChunkNotFetchedError);
    expect(calls).toEqual([]);
  });

  it('fetching() fetches only the chunks the call reads, then the call succeeds', async () => {
    const fs = tree();
    const { back, calls, lazy } = lazyCopy(fs);
    expect(await fetching(() => back.readFile('/a/small.txt', 'utf8'))).toBe('hello');
    expect(calls.flat()).toEqual([sha(new TextEncoder().encode('hello'))]);
    // A range read of the big file brings only the chunk under it.
    const fh = back.open(back.inoOf('/a/b/big.bin'));
    const got = await fetching(() => back.read(fh, 10, CHUNK + 5));
    expect(got).toEqual(fs.readFile('/a/b/big.bin').subarray(CHUNK + 5, CHUNK + 15));
    expect(calls.length).toBe(2);
    expect(calls[1]).toHaveLength(1);
    expect(lazy.stats).toMatchObject({ calls: 2, chunks: 2, bytes: 5 + CHUNK });
  });

  it('concurrent requests go out in one batch, and a chunk on its way is not asked for twice', async () => {
    const fs = tree();
    const { back, calls } = lazyCopy(fs);
    await Promise.all([back.prefetch('/a/b'), back.prefetch('/a/b/big.bin'), back.prefetch(['/a/same1', '/a/same2'])]);
    expect(calls).toHaveLength(1);
    expect(new Set(calls[0]).size).toBe(calls[0].length);
    expect(calls[0]).toHaveLength(4 + 1); // big.bin's 4 chunks, 'dup' once
    expect(back.readFile('/a/same2', 'utf8')).toBe('dup');
  });

  it('prefetch() of everything gives the same state, fingerprint and all', async () => {
    const fs = tree();
    const { back, calls } = lazyCopy(fs, 2);
    expect(back.unfetched().length).toBe(7); // big.bin's 4, hello, dup (once), the sparse file's one
    const r = await back.prefetch();
    expect(r.chunks).toBe(7);
    expect(calls.map((c) => c.length)).toEqual([2, 2, 2, 1]);
    expect(back.fingerprint()).toBe(fs.fingerprint());
    expect(back.unfetched()).toEqual([]);
  });

  it('writes, truncates and punches that need old bytes ask for them first; whole replacements do not', async () => {
    const fs = tree();
    const { back, calls } = lazyCopy(fs);
    const before = back.stat('/a/b/big.bin');
    const fh = back.open(back.inoOf('/a/b/big.bin'), O_RDWR);
    expect(() => back.write(fh, new Uint8Array([1, 2]), 10)).toThrow(ChunkNotFetchedError);
    expect(() => back.truncate('/a/b/big.bin', CHUNK + 1)).toThrow(ChunkNotFetchedError);
    expect(() => back.fallocate(back.inoOf('/a/b/big.bin'), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 5)).toThrow(ChunkNotFetchedError);
    expect(back.stat('/a/b/big.bin')).toEqual(before); // nothing changed
    // Cutting on a chunk boundary or punching whole chunks needs nothing.
    back.fallocate(back.inoOf('/a/b/big.bin'), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, CHUNK, CHUNK);
    back.truncate('/a/b/big.bin', 2 * CHUNK);
    back.writeFile('/a/small.txt', 'replaced'); // truncate to 0, then write
    expect(calls).toEqual([]);
    await fetching(() => back.write(fh, new Uint8Array([1, 2]), 10));
    const want = fs.readFile('/a/b/big.bin').slice(0, 2 * CHUNK);
    want.set([1, 2], 10);
    want.fill(0, CHUNK, 2 * CHUNK);
    expect(await fetching(() => back.readFile('/a/b/big.bin'))).toEqual(want);
    expect(back.readFile('/a/small.txt', 'utf8')).toBe('replaced');
  });

  it('a delta manifest of a partly fetched state needs no bytes; diff compares by hash without fetching', async () => {
    const fs = tree();
    const { back, calls, chunks } = lazyCopy(fs);
    const base = back.fork();
    back.writeFile('/a/new.txt', 'new');
    back.writeFile('/a/same1', 'changed');
    const d = back.diff(base);
    expect(base.diff(back)).toMatchObject({ added: [{ path: '/a/new.txt' }], modified: [{ path: '/a/same1' }] });
    expect(d.modified.map((c) => c.path)).toEqual(['/a/same1']);
    // Named by an id (as a store does), not by the parent's fingerprint (which would need every byte).
    const delta = back.fork().exportManifest({ since: base, parentId: 'ab'.repeat(32) });
    expect([...delta.chunks.keys()].sort()).toEqual([sha(new TextEncoder().encode('changed')), sha(new TextEncoder().encode('new'))].sort());
    expect(delta.unfetched.size).toBe(0);
    // A full manifest names the unfetched chunks without their bytes.
    const full = back.fork().exportManifest();
    expect(full.unfetched.size).toBe(7);
    expect(calls).toEqual([]);
    // Both restore to the same state (bytes from the original chunks plus the new ones).
    const all = new Map([...chunks, ...delta.chunks]);
    const again = InodeFs.importManifest(full.manifest, { chunk: (h) => all.get(h)! });
    await back.prefetch();
    expect(again.fingerprint()).toBe(back.fingerprint());
    // A lazy import of a file equal to a fetched one compares equal by hash.
    const other = InodeFs.importManifest(full.manifest, { lazy: new LazyChunks(async () => new Map()) });
    expect(other.diff(back)).toEqual({ added: [], modified: [], deleted: [], renamed: [] });
  });

  it('a loader failure reaches the reader and leaves the chunk unfetched; the next read asks again', async () => {
    const fs = tree();
    const { manifest, chunks } = fs.fork().exportManifest();
    let fail = true;
    const lazy = new LazyChunks(async (hashes) => {
      if (fail) throw new Error('store says no');
      return new Map(hashes.map((h) => [h, chunks.get(h)!]));
    });
    const back = InodeFs.importManifest(manifest, { lazy });
    await expect(fetching(() => back.readFile('/a/small.txt'))).rejects.toThrow('store says no');
    expect(back.unfetched('/a/small.txt')).toHaveLength(1);
    fail = false;
    expect(await fetching(() => back.readFile('/a/small.txt', 'utf8'))).toBe('hello');
  });

  it('a loader that gives bytes of the wrong length is refused', async () => {
    const fs = tree();
    const { manifest } = fs.fork().exportManifest();
    const back = InodeFs.importManifest(manifest, { lazy: new LazyChunks(async (hashes) => new Map(hashes.map((h) => [h, new Uint8Array(1)]))) });
    await expect(back.prefetch('/a/small.txt')).rejects.toThrow(/1 bytes, the manifest says 5/);
    expect(back.unfetched('/a/small.txt')).toHaveLength(1);
  });

  it('bad input: prefetch of a missing path is ENOENT; a damaged manifest is refused', async () => {
    const fs = tree();
    const { back, manifest } = lazyCopy(fs);
    await expect(back.prefetch('/nope')).rejects.toBeInstanceOf(FsError);
    await expect(new InodeFs().prefetch('/nope')).rejects.toMatchObject({ code: 'ENOENT' });
    const bad = Uint8Array.from(manifest);
    bad[bad.length - 10] ^= 0xff;
    expect(() => InodeFs.importManifest(bad, { lazy: new LazyChunks(async () => new Map()) })).toThrow(SnapshotError);
  });

  it('the table holds chunks weakly: once no state references a chunk, its bytes are let go', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const fs = tree();
    const { manifest, chunks } = fs.fork().exportManifest();
    const lazy = new LazyChunks(async (hashes) => new Map(hashes.map((h) => [h, chunks.get(h)!])));
    const hello = sha(new TextEncoder().encode('hello'));
    let back: InodeFs | null = InodeFs.importManifest(manifest, { lazy });
    await back.prefetch('/a/small.txt');
    expect(lazy.get(hello)?.bytes).toBeTruthy();
    back = null;
    // (A deref keeps its target alive to the end of the job: collect in a job of its own.)
    const tick = () => new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 20; i++) {
      await tick();
      gc();
      await tick();
      if (!lazy.get(hello)) break;
    }
    expect(lazy.get(hello)).toBeUndefined();
    expect(lazy.unfetched()).toEqual([]);
  });
});
