// Lazy opening, on every Store implementation: the manifests at open, each chunk on its first read.
// The store is wrapped to count what getChunks is asked for (the real store still answers).

import { describe, expect, it } from 'vitest';
import { ChunkNotFetchedError, fetching } from '@vws/inode-fs';
import { ChunkHashMismatchError, StoreConfigError, openFromStore, sha256, type Store } from '../src/index.js';
import { fillTree, type ContractHooks } from './contract.js';

let seq = 0;
const wsId = () => `lazy-${process.pid}-${Date.now()}-${seq++}`;
const text = (s: string) => new TextEncoder().encode(s);

/** The same store, with every getChunks call recorded (hashes asked, bytes returned). */
function counting(store: Store): { store: Store; calls: string[][]; bytes: () => number } {
  const calls: string[][] = [];
  let bytes = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.getChunks = async (hashes) => {
    calls.push(hashes);
    const got = await store.getChunks(hashes);
    for (const b of got.values()) bytes += b.length;
    return got;
  };
  return { store: wrapped, calls, bytes: () => bytes };
}

export function lazyContract(name: string, hooks: ContractHooks): void {
  describe(`${name}: lazy open`, () => {
    it('opens a 10,000-file workspace from its manifest; reading one file fetches that file\'s chunks only', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      fillTree(a.engine, 10_000);
      a.engine.writeFile('/big.bin', new Uint8Array(5 * 16384 + 7).map((_, i) => (i * 7) % 251));
      await a.save();
      const c = counting(store);
      const b = await openFromStore(c.store, id, { prefetchBytes: 0 });
      expect(b.opened).toMatchObject({ chunks: 0, bytes: 0, manifests: 1 });
      expect(b.opened.unfetched).toBeGreaterThan(1000);
      expect(c.calls).toEqual([]);
      // Listing and stat need no bytes.
      expect(b.engine.readdir('/d7')).toHaveLength(1000);
      expect(b.engine.stat('/d7/f7.txt').size).toBe(a.engine.stat('/d7/f7.txt').size);
      expect(() => b.engine.readFile('/d7/f7.txt')).toThrow(ChunkNotFetchedError);
      expect(await fetching(() => b.engine.readFile('/d7/f7.txt', 'utf8'))).toBe(a.engine.readFile('/d7/f7.txt', 'utf8'));
      expect(c.calls).toEqual([[sha256(a.engine.readFile('/d7/f7.txt'))]]);
      expect(c.bytes()).toBe(a.engine.stat('/d7/f7.txt').size);
      // A second read of it asks nothing; a range of the big file asks for the chunk under it.
      await fetching(() => b.engine.readFile('/d7/f7.txt'));
      const fh = b.engine.open(b.engine.inoOf('/big.bin'));
      const range = await fetching(() => b.engine.read(fh, 100, 2 * 16384 + 50));
      expect(range).toEqual(a.engine.readFile('/big.bin').subarray(2 * 16384 + 50, 2 * 16384 + 150));
      expect(c.calls).toHaveLength(2);
      expect(c.calls[1]).toHaveLength(1);
      expect(b.fetched).toEqual({ calls: 2, chunks: 2, bytes: c.bytes() });
      await store.close();
    });

    it('a small tree is fetched whole at open (one batch), so synchronous reads just work', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      fillTree(a.engine, 300);
      await a.save();
      const c = counting(store);
      const b = await openFromStore(c.store, id);
      expect(b.opened.unfetched).toBe(0);
      expect(b.opened.chunks).toBeGreaterThan(200);
      expect(c.calls).toHaveLength(1);
      expect(b.engine.fingerprint()).toBe(a.engine.fingerprint());
      await store.close();
    });

    it('a checkpoint after a one-file change in a lazily opened tree is correct: another worker restores it byte for byte', async () => {
      const store = await hooks.make();
      const id = wsId();
      // One clock for both writers, so that the same changes give the same bytes (times included).
      const engine = { clock: () => 42n };
      const a = await openFromStore(store, id, { fullEvery: 2, engine });
      fillTree(a.engine, 2_000);
      await a.save();
      const c = counting(store);
      const b = await openFromStore(c.store, id, { prefetchBytes: 0, fullEvery: 2, engine });
      b.engine.writeFile('/d3/f3.txt', 'changed by b\n');
      b.engine.rename('/d4/f4.txt', '/d4/moved.txt');
      const delta = await b.save();
      expect(delta).toMatchObject({ kind: 'delta', chunksSent: 1 });
      expect(c.calls).toEqual([]); // a replace and a rename need no old bytes
      // An append needs the file's last chunk; the next save is full (fullEvery 2) and names every
      // chunk b never fetched by its hash.
      await fetching(() => b.engine.appendFile('/d5/f5.txt', 'more\n'));
      expect(c.calls.flat()).toHaveLength(1);
      const full = await b.save();
      expect(full).toMatchObject({ kind: 'full', chunksSent: 1 });
      a.engine.writeFile('/d3/f3.txt', 'changed by b\n');
      a.engine.rename('/d4/f4.txt', '/d4/moved.txt');
      a.engine.appendFile('/d5/f5.txt', 'more\n');
      const want = a.engine.fingerprint();
      const eager = await openFromStore(store, id, { lazy: false });
      expect(eager.engine.fingerprint()).toBe(want);
      const lazy = await openFromStore(store, id, { prefetchBytes: 0 });
      await lazy.prefetch();
      expect(lazy.engine.fingerprint()).toBe(want);
      await b.prefetch();
      expect(b.engine.fingerprint()).toBe(want);
      await store.close();
    });

    it('a damaged chunk gives ChunkHashMismatchError when read; the tree stays usable and saves', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      fillTree(a.engine, 50);
      a.engine.writeFile('/precious', 'precious');
      await a.save();
      await hooks.damageChunk(store, sha256(text('precious')));
      const b = await openFromStore(store, id, { prefetchBytes: 0 });
      const err = await fetching(() => b.engine.readFile('/precious')).catch((e) => e);
      expect(err).toBeInstanceOf(ChunkHashMismatchError);
      expect(err.hash).toBe(sha256(text('precious')));
      expect(b.engine.unfetched('/precious')).toHaveLength(1);
      expect(await fetching(() => b.engine.readFile('/d1/f1.txt', 'utf8'))).toBe(a.engine.readFile('/d1/f1.txt', 'utf8'));
      b.engine.writeFile('/precious', 'rewritten');
      expect((await b.save()).kind).toBe('delta');
      const c = await openFromStore(store, id);
      expect(c.engine.readFile('/precious', 'utf8')).toBe('rewritten');
      await store.close();
    });

    it('a bad prefetchBytes is refused before anything is taken', async () => {
      const store = await hooks.make();
      const id = wsId();
      await expect(openFromStore(store, id, { prefetchBytes: -1, lease: { holder: 'a' } })).rejects.toBeInstanceOf(StoreConfigError);
      await expect(openFromStore(store, id, { prefetchBytes: Number.NaN })).rejects.toThrow(/prefetchBytes/);
      // The lease was never taken: another holder gets it at once.
      const b = await openFromStore(store, id, { lease: { holder: 'b' } });
      await b.close();
      await store.close();
    });
  });
}
