// The behaviour every Store implementation must show, run by each implementation's tests:
// MemoryStore here, PostgresStore in @vws/store-postgres (against a real server).

import { describe, expect, it } from 'vitest';
import { InodeFs } from '@vws/inode-fs';
import {
  ChunkHashMismatchError,
  HeadConflictError,
  LeaseHeldError,
  LeaseLostError,
  NotFoundError,
  checkStore,
  openFromStore,
  sha256,
  type Store,
} from '../src/index.js';

export interface ContractHooks {
  /** A fresh, empty store. */
  make(): Promise<Store>;
  /** Overwrites a stored chunk's bytes (to test damage detection). */
  damageChunk(store: Store, hash: string): Promise<void>;
}

let seq = 0;
const wsId = () => `ws-${process.pid}-${Date.now()}-${seq++}`;

/** A tree of n small files in 10 directories. */
export function fillTree(fs: InodeFs, n: number, tag = ''): void {
  for (let d = 0; d < 10; d++) fs.mkdir(`/d${d}`, { recursive: true });
  for (let i = 0; i < n; i++) fs.writeFile(`/d${i % 10}/f${i}.txt`, `file ${i} ${tag}\n`.repeat(1 + (i % 7)));
}

export function storeContract(name: string, hooks: ContractHooks): void {
  describe(`${name}: checkpoints`, () => {
    it('saves and reopens a workspace byte for byte; a one-file change sends one chunk and a small delta', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { lease: { holder: 'a' } });
      fillTree(a.engine, 500);
      a.engine.writeFile('/big.bin', new Uint8Array(100_000).map((_, i) => i % 251));
      const first = await a.save();
      expect(first.kind).toBe('full');
      expect(first.chunksSent).toBeGreaterThan(500);
      a.engine.writeFile('/d3/f3.txt', 'changed\n');
      const second = await a.save();
      expect(second.kind).toBe('delta');
      expect(second.chunksSent).toBe(1);
      expect(second.chunkBytesSent).toBe(8);
      expect(second.manifestBytes).toBeLessThan(300);
      await a.close();
      const b = await openFromStore(store, id, { lease: { holder: 'b' } });
      expect(b.engine.fingerprint()).toBe(a.engine.fingerprint());
      expect(b.engine.readFile('/d3/f3.txt', 'utf8')).toBe('changed\n');
      expect(b.head?.id).toBe(second.checkpoint.id);
      await b.close();
      await store.close();
    });

    it('writes a full manifest every fullEvery saves and restores across the chain', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { fullEvery: 3 });
      const kinds: string[] = [];
      for (let i = 0; i < 7; i++) {
        a.engine.writeFile(`/n${i}`, `v${i}`);
        kinds.push((await a.save()).kind);
      }
      expect(kinds).toEqual(['full', 'delta', 'delta', 'full', 'delta', 'delta', 'full']);
      a.engine.writeFile('/last', 'x');
      await a.save();
      const b = await openFromStore(store, id);
      expect(b.opened.manifests).toBe(2);
      expect(b.engine.fingerprint()).toBe(a.engine.fingerprint());
      await store.close();
    });

    it('saves started together run one after the other (no conflict with itself)', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      a.engine.writeFile('/f', '1');
      const first = a.save();
      a.engine.writeFile('/g', '2');
      const second = a.save();
      const [r1, r2] = await Promise.all([first, second]);
      expect(r2.checkpoint.parent).toBe(r1.checkpoint.id);
      // Each save holds the state as of its call.
      expect((await openFromStore(store, id, { checkpoint: r1.checkpoint.id })).engine.exists('/g')).toBe(false);
      expect((await openFromStore(store, id)).engine.readFile('/g', 'utf8')).toBe('2');
      await store.close();
    });

    it('named checkpoints open the state they name', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      a.engine.writeFile('/f', 'one');
      await a.save({ name: 'v1' });
      a.engine.writeFile('/f', 'two');
      await a.save();
      const old = await openFromStore(store, id, { checkpoint: 'v1' });
      expect(old.engine.readFile('/f', 'utf8')).toBe('one');
      expect([...(await store.names(id)).keys()]).toEqual(['v1']);
      await expect(openFromStore(store, id, { checkpoint: 'nope' })).rejects.toThrow(NotFoundError);
      await store.close();
    });

    it('two writers: the second to save gets HeadConflictError and keeps its state; saving it as a fork loses nothing', async () => {
      const store = await hooks.make();
      const id = wsId();
      const setup = await openFromStore(store, id);
      setup.engine.writeFile('/base', 'base');
      await setup.save();
      const a = await openFromStore(store, id);
      const b = await openFromStore(store, id);
      a.engine.writeFile('/a', 'from a');
      b.engine.writeFile('/b', 'from b');
      await a.save();
      const before = b.engine.fingerprint();
      const err = await b.save().catch((e) => e);
      expect(err).toBeInstanceOf(HeadConflictError);
      expect(String(err.message)).toMatch(/another writer saved first/);
      expect(b.engine.fingerprint()).toBe(before);
      // b keeps its work: into a fork of the checkpoint it started from.
      const forkId = `${id}-b`;
      await b.fork(forkId);
      const bf = await openFromStore(store, forkId);
      bf.engine.reset(b.engine);
      await bf.save();
      const again = await openFromStore(store, forkId);
      expect(again.engine.readFile('/b', 'utf8')).toBe('from b');
      expect((await openFromStore(store, id)).engine.readFile('/a', 'utf8')).toBe('from a');
      await store.close();
    });
  });

  describe(`${name}: leases`, () => {
    it('a held workspace says who holds it until when; waiting gets it once released', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { lease: { holder: 'worker-a', ttlMs: 10_000 } });
      const err = await openFromStore(store, id, { lease: { holder: 'worker-b' } }).catch((e) => e);
      expect(err).toBeInstanceOf(LeaseHeldError);
      expect(err.message).toMatch(new RegExp(`workspace '${id}' is held by worker-a until \\d{4}-`));
      expect(err.holder).toBe('worker-a');
      setTimeout(() => void a.close(), 300);
      const b = await openFromStore(store, id, { lease: { holder: 'worker-b', waitMs: 5_000 } });
      expect(b.lease?.holder).toBe('worker-b');
      await b.close();
      await store.close();
    });

    it('an expired lease passes to the next worker; the old holder can no longer save', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { lease: { holder: 'a', ttlMs: 400 } });
      a.engine.writeFile('/f', '1');
      await a.save();
      // Simulate a stalled worker: its renewals stop (as if its process froze).
      (a as unknown as { renewTimer: NodeJS.Timeout }).renewTimer && clearInterval((a as unknown as { renewTimer: NodeJS.Timeout }).renewTimer);
      await new Promise((r) => setTimeout(r, 600));
      const b = await openFromStore(store, id, { lease: { holder: 'b', ttlMs: 10_000 } });
      expect(b.engine.readFile('/f', 'utf8')).toBe('1');
      a.engine.writeFile('/f', 'stale');
      await expect(a.save()).rejects.toThrow(LeaseLostError);
      b.engine.writeFile('/f', '2');
      await b.save();
      await b.close();
      await store.close();
    });

    it('renewal keeps a lease alive past its ttl', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { lease: { holder: 'a', ttlMs: 300 } });
      await new Promise((r) => setTimeout(r, 900));
      await expect(openFromStore(store, id, { lease: { holder: 'b' } })).rejects.toThrow(LeaseHeldError);
      a.engine.writeFile('/f', 'x');
      await a.save();
      await a.close();
      await store.close();
    });
  });

  describe(`${name}: forks, damage, gc`, () => {
    it('a fork stores only what it changed', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      fillTree(a.engine, 300);
      await a.save();
      await a.fork(`${id}-fork`);
      const f = await openFromStore(store, `${id}-fork`);
      f.engine.writeFile('/d1/f1.txt', 'fork change');
      const saved = await f.save();
      expect(saved.kind).toBe('delta');
      expect(saved.chunksSent).toBe(1);
      expect(saved.chunkBytesSent).toBe('fork change'.length);
      expect(saved.manifestBytes).toBeLessThan(300);
      expect((await openFromStore(store, id)).engine.readFile('/d1/f1.txt', 'utf8')).toBe('file 1 \n'.repeat(2));
      await store.close();
    });

    it('a damaged chunk is refused with ChunkHashMismatchError', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id);
      a.engine.writeFile('/f', 'precious');
      await a.save();
      await hooks.damageChunk(store, sha256(new TextEncoder().encode('precious')));
      const err = await openFromStore(store, id).catch((e) => e);
      expect(err).toBeInstanceOf(ChunkHashMismatchError);
      expect(err.hash).toBe(sha256(new TextEncoder().encode('precious')));
      await store.close();
    });

    it('gc drops unreachable checkpoints and chunks after retention and keeps every head and name', async () => {
      const store = await hooks.make();
      const id = wsId();
      const a = await openFromStore(store, id, { fullEvery: 2 });
      a.engine.writeFile('/keep', 'named');
      await a.save({ name: 'keep' });
      for (let i = 0; i < 5; i++) {
        a.engine.writeFile('/tmp', `temporary ${i}`);
        await a.save();
      }
      a.engine.unlink('/tmp');
      await a.save();
      // Young: nothing goes.
      const young = await store.gc({ retainMs: 60_000 });
      expect(young.chunks).toBe(0);
      const old = await store.gc({ retainMs: 0 });
      expect(old.checkpoints).toBeGreaterThan(0);
      // 'temporary 0'..'temporary 4' are unreachable now.
      expect(old.chunks).toBe(5);
      const report = await checkStore(store);
      expect(report.heads.get(id)).toBe(a.engine.fingerprint());
      expect((await openFromStore(store, id, { checkpoint: 'keep' })).engine.readFile('/keep', 'utf8')).toBe('named');
      await store.close();
    });
  });
}
