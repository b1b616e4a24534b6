// A worker process for the multi-process tests: its own memory, its own $VWS_HOME, one store.
// Usage: worker.ts <mode> (env PG_URL, PG_SCHEMA, WS, NAME); prints one JSON line per event.

import { createInterface } from 'node:readline';
import { HeadConflictError, openFromStore, type CommitInput, type Store } from '@vws/store';
import { PostgresStore } from '../src/index.js';

const mode = process.argv[2];
const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`worker: ${k} is not set`);
  return v;
};
const ws = env('WS');
const name = env('NAME');
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const pg = await PostgresStore.connect({ connectionString: env('PG_URL'), schema: env('PG_SCHEMA') });
// PAUSE_BEFORE_COMMIT: announce each commit (its chunks are uploaded by then) and hold it a moment,
// so the crash test can kill this process exactly between upload and commit.
const store: Store = process.env.PAUSE_BEFORE_COMMIT
  ? new Proxy(pg, {
      get(target, prop, receiver) {
        if (prop !== 'commit') return Reflect.get(target, prop, receiver);
        return async (input: CommitInput) => {
          say({ event: 'committing', id: input.id, refs: input.refs.length });
          await new Promise((r) => setTimeout(r, 200));
          return target.commit(input);
        };
      },
    })
  : pg;

function pseudoRandom(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

if (mode === 'create') {
  // Writes a tree of FILES files and checkpoints it.
  const w = await openFromStore(store, ws, { lease: { holder: name } });
  const files = Number(process.env.FILES ?? 1000);
  for (let i = 0; i < files; i++) {
    w.engine.mkdir(`/src/m${i % 20}`, { recursive: true });
    w.engine.writeFile(`/src/m${i % 20}/f${i}.ts`, `export const v${i} = ${i};\n`.repeat(1 + (i % 5)));
  }
  w.engine.writeFile('/data.bin', pseudoRandom(7, 300_000));
  w.engine.symlink('src/m1', '/link');
  w.engine.chmod('/src/m1/f1.ts', 0o751);
  const saved = await w.save();
  say({ event: 'saved', fingerprint: w.engine.fingerprint(), head: saved.checkpoint.id });
  await w.close();
} else if (mode === 'open') {
  // Opens for writing (waiting WAIT_MS for the lease), reports what it sees.
  try {
    const w = await openFromStore(store, ws, { lease: { holder: name, ttlMs: 2_000, waitMs: Number(process.env.WAIT_MS ?? 0) } });
    say({ event: 'opened', fingerprint: w.engine.fingerprint(), head: w.head?.id ?? null, files: w.engine.readdir('/') });
    w.engine.writeFile(`/by-${name}`, name);
    const saved = await w.save();
    say({ event: 'saved', fingerprint: w.engine.fingerprint(), head: saved.checkpoint.id });
    await w.close();
  } catch (e) {
    say({ event: 'error', class: (e as Error).name, message: (e as Error).message });
  }
} else if (mode === 'lazy-edit') {
  // Opens lazily (nothing fetched at open), changes one file, saves; then fetches the rest to report
  // the fingerprint of what it saved.
  const w = await openFromStore(store, ws, { lease: { holder: name }, prefetchBytes: 0 });
  w.engine.writeFile('/src/m3/f3.ts', `changed by ${name}\n`);
  const saved = await w.save();
  const fetched = w.fetched;
  await w.prefetch();
  say({ event: 'saved', kind: saved.kind, chunksSent: saved.chunksSent, fetched, unfetchedAtOpen: w.opened.unfetched, fingerprint: w.engine.fingerprint(), head: saved.checkpoint.id });
  await w.close();
} else if (mode === 'restore') {
  // Opens eagerly (every chunk, each checked) and reports the fingerprint.
  const w = await openFromStore(store, ws, { lazy: false });
  say({ event: 'restored', fingerprint: w.engine.fingerprint(), head: w.head?.id ?? null });
  await w.close();
} else if (mode === 'hold') {
  // Takes the lease with a short ttl, saves, then stays (renewing) until killed.
  const w = await openFromStore(store, ws, { lease: { holder: name, ttlMs: 1_500 } });
  w.engine.writeFile(`/by-${name}`, 'held');
  const saved = await w.save();
  say({ event: 'holding', fingerprint: w.engine.fingerprint(), head: saved.checkpoint.id });
  setInterval(() => {}, 1_000);
} else if (mode === 'race') {
  // Opens without a lease, waits for "go" on stdin, then saves; a loser keeps its work in a fork.
  const w = await openFromStore(store, ws);
  w.engine.writeFile(`/from-${name}`, `work of ${name}`);
  say({ event: 'ready' });
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) if (line === 'go') break;
  try {
    const saved = await w.save();
    say({ event: 'won', fingerprint: w.engine.fingerprint(), head: saved.checkpoint.id });
  } catch (e) {
    if (!(e instanceof HeadConflictError)) throw e;
    const fork = `${ws}-${name}`;
    await w.fork(fork);
    const f = await openFromStore(store, fork);
    f.engine.reset(w.engine);
    await f.save();
    say({ event: 'conflict', message: e.message, fingerprint: w.engine.fingerprint(), fork });
  }
  rl.close();
} else if (mode === 'saves') {
  // SAVES checkpoints, each rewriting a 512 KiB file and a few small ones (killed at random by the crash test).
  const w = await openFromStore(store, ws, { fullEvery: Number(process.env.FULL_EVERY ?? 8) });
  const n = Number(process.env.SAVES ?? 50);
  const seed = Number(process.env.SEED ?? 1);
  for (let i = 0; i < n; i++) {
    w.engine.writeFile('/big.bin', pseudoRandom(seed * 1000 + i, 512 * 1024));
    w.engine.writeFile(`/small-${(seed + i) % 13}.txt`, `${name} ${i}\n`);
    if (i % 5 === 4) w.engine.rm(`/small-${(seed + i + 7) % 13}.txt`, { force: true });
    const saved = await w.save();
    say({ event: 'saved', i, head: saved.checkpoint.id, fingerprint: w.engine.fingerprint() });
  }
} else {
  throw new Error(`worker: unknown mode ${mode}`);
}
await store.close();
