// A workspace opened lazily from Postgres, under the composer's real FUSE mount and PTY: a command
// that reads one file of 10,000 fetches that file's chunks and nothing more; what it writes is in
// the next checkpoint, which another open restores byte for byte.

import { afterEach, expect, inject, it } from 'vitest';
import { createVwsWorkspace, type VwsWorkspace } from '@vws/workspace';
import { openFromStore, sha256, type Store } from '@vws/store';
import { PostgresStore } from '../src/index.js';

let vws: VwsWorkspace | undefined;
afterEach(async () => {
  await vws?.destroy();
  vws = undefined;
});

/** The same store, with what getChunks is asked recorded. */
function counting(store: Store): { store: Store; asked: string[][] } {
  const asked: string[][] = [];
  const wrapped = Object.create(store) as Store;
  wrapped.getChunks = (hashes) => {
    asked.push(hashes);
    return store.getChunks(hashes);
  };
  return { store: wrapped, asked };
}

it('cat of one file through the mount of a lazily opened 10,000-file workspace fetches only that file', async () => {
  const store = await PostgresStore.connect({ connectionString: inject('pgUrl'), schema: `lazy_${process.pid}` });
  const a = await openFromStore(store, 'big');
  for (let d = 0; d < 10; d++) a.engine.mkdir(`/src/m${d}`, { recursive: true });
  for (let i = 0; i < 10_000; i++) a.engine.writeFile(`/src/m${i % 10}/f${i}.ts`, `export const v${i} = ${i};\n`);
  await a.save();
  const c = counting(store);
  const ws = await openFromStore(c.store, 'big', { prefetchBytes: 0, lease: { holder: 'worker-b' } });
  expect(ws.opened.chunks).toBe(0);
  vws = await createVwsWorkspace({ engine: ws.engine });
  const r = await vws.sandbox.executeCommand('cat src/m7/f4567.ts && ls src/m3 | wc -l && echo "// edited" >> src/m1/f1.ts');
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toBe('export const v4567 = 4567;\n1000\n');
  // The file cat read, and the one the append extended (its last chunk): nothing else.
  expect(c.asked.flat().sort()).toEqual([sha256(new TextEncoder().encode('export const v4567 = 4567;\n')), sha256(new TextEncoder().encode('export const v1 = 1;\n'))].sort());
  const saved = await ws.save();
  expect(saved).toMatchObject({ kind: 'delta', chunksSent: 1 });
  await ws.close();
  a.engine.appendFile('/src/m1/f1.ts', '// edited\n');
  const fresh = await openFromStore(store, 'big', { lazy: false });
  expect(fresh.engine.readFile('/src/m1/f1.ts', 'utf8')).toBe('export const v1 = 1;\n// edited\n');
  expect(fresh.engine.readdir('/src/m1')).toEqual(a.engine.readdir('/src/m1'));
  await store.close();
});
