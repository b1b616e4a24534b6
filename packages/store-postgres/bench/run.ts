// @vws/store-postgres against the full snapshot on the same server, same run. One JSON line per case,
// medians of 7 runs with [min, max]. Starts a throwaway cluster (or uses VWS_BENCH_PG_URL).
// Run: pnpm --filter @vws/store-postgres bench (needs FUSE for the mount case)

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { mount, restoreForMount } from '@vws/fuse';
import { InodeFs, fetching } from '@vws/inode-fs';
import { openFromStore } from '@vws/store';
import { PostgresStore } from '../src/index.js';
import { startCluster } from '../test/cluster.js';

const RUNS = 7;
const FILES = 10_000;
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: Number(s[Math.floor(s.length / 2)].toFixed(2)), range: [Number(s[0].toFixed(2)), Number(s[s.length - 1].toFixed(2))] };
};
const emit = (o: object) => console.log(JSON.stringify(o));

/** 10,000 source-like files, 20 directories, 100 B to 3 KiB each (about 16 MiB). */
function fill(fs: InodeFs): void {
  for (let i = 0; i < FILES; i++) {
    if (i < 20) fs.mkdir(`/src/m${i}`, { recursive: true });
    fs.writeFile(`/src/m${i % 20}/f${i}.ts`, `export const value${i} = ${i}; // ${'x'.repeat(i % 61)}\n`.repeat(1 + (i % 40)));
  }
}

const cluster = process.env.VWS_BENCH_PG_URL ? null : await startCluster();
const url = process.env.VWS_BENCH_PG_URL ?? cluster!.url;
const schema = `bench_${process.pid}`;
const store = await PostgresStore.connect({ connectionString: url, schema });
const raw = new pg.Client(url);
await raw.connect();
await raw.query(`CREATE TABLE "${schema}".full_snapshots (id serial PRIMARY KEY, bytes bytea NOT NULL)`);

try {
  // ---- 1. checkpoint after a one-file change vs writing the full snapshot
  const ws = await openFromStore(store, 'big', { lease: { holder: 'bench' }, fullEvery: 1_000 });
  fill(ws.engine);
  const t0 = performance.now();
  const first = await ws.save();
  const firstMs = performance.now() - t0;
  const deltaMs: number[] = [];
  const deltaBytes: number[] = [];
  const fullMs: number[] = [];
  let fullBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    ws.engine.writeFile(`/src/m${i}/f${i}.ts`, `export const changed = ${i};\n`);
    let t = performance.now();
    const saved = await ws.save();
    deltaMs.push(performance.now() - t);
    deltaBytes.push(saved.chunkBytesSent + saved.manifestBytes);
    t = performance.now();
    const snap = ws.engine.snapshot();
    await raw.query(`INSERT INTO "${schema}".full_snapshots (bytes) VALUES ($1)`, [Buffer.from(snap.buffer, snap.byteOffset, snap.byteLength)]);
    fullMs.push(performance.now() - t);
    fullBytes = snap.length;
  }
  const d = stat(deltaMs);
  const f = stat(fullMs);
  emit({
    bench: 'store-checkpoint-one-file-change-10k-files',
    delta_bytes_sent: stat(deltaBytes).median,
    full_snapshot_bytes: fullBytes,
    bytes_ratio_full_over_delta: Number((fullBytes / stat(deltaBytes).median).toFixed(1)),
    delta_save_ms: d.median,
    delta_save_ms_range: d.range,
    full_snapshot_save_ms: f.median,
    full_snapshot_save_ms_range: f.range,
    speedup_vs_full_snapshot: Number((f.median / d.median).toFixed(1)),
    first_full_save_ms: Number(firstMs.toFixed(1)),
    first_full_save_chunks: first.chunksSent,
    first_full_save_bytes: first.chunkBytesSent + first.manifestBytes,
  });
  const tables = await store.stats();
  await ws.close();

  // ---- 2. open from the store and read one file vs restore the whole tree from the full snapshot
  //         (lazy: the manifests, then that file's chunks; eager: every chunk at open)
  const openMs: number[] = [];
  const eagerMs: number[] = [];
  const restoreMs: number[] = [];
  let lazyFetched = { calls: 0, chunks: 0, bytes: 0 };
  let eager = { chunks: 0, bytes: 0, manifests: 0, unfetched: 0 };
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const w = await openFromStore(store, 'big', { prefetchBytes: 0 });
    await fetching(() => w.engine.readFile('/src/m3/f3.ts'));
    openMs.push(performance.now() - t);
    lazyFetched = w.fetched;
    t = performance.now();
    const e = await openFromStore(store, 'big', { lazy: false });
    e.engine.readFile('/src/m3/f3.ts');
    eagerMs.push(performance.now() - t);
    eager = e.opened;
    t = performance.now();
    const { rows } = await raw.query(`SELECT bytes FROM "${schema}".full_snapshots ORDER BY id DESC LIMIT 1`);
    InodeFs.restore(rows[0].bytes).readFile('/src/m3/f3.ts');
    restoreMs.push(performance.now() - t);
  }
  const o = stat(openMs);
  const r = stat(restoreMs);
  const e = stat(eagerMs);
  emit({
    bench: 'store-open-10k-files-read-one',
    lazy_open_and_read_ms: o.median,
    lazy_open_and_read_ms_range: o.range,
    full_snapshot_restore_ms: r.median,
    full_snapshot_restore_ms_range: r.range,
    ratio_lazy_open_over_restore: Number((o.median / r.median).toFixed(3)),
    speedup_vs_restore: Number((r.median / o.median).toFixed(1)),
    eager_open_and_read_ms: e.median,
    eager_open_and_read_ms_range: e.range,
    lazy_fetched_chunks: lazyFetched.chunks,
    lazy_fetched_bytes: lazyFetched.bytes,
    lazy_get_chunks_calls: lazyFetched.calls,
    eager_fetched_chunks: eager.chunks,
    eager_fetched_bytes: eager.bytes,
    manifests: eager.manifests,
  });

  // ---- 2b. the same through a FUSE mount: a command cats one file of the lazily opened tree, against
  //          the full snapshot restored on the serving thread and mounted
  const mountLazyMs: number[] = [];
  const mountRestoreMs: number[] = [];
  let mountFetched = { calls: 0, chunks: 0, bytes: 0 };
  const cat = promisify(execFile);
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const w = await openFromStore(store, 'big', { prefetchBytes: 0 });
    const m = await mount(w.engine);
    const out = await cat('cat', [`${m.path}/src/m3/f3.ts`]);
    mountLazyMs.push(performance.now() - t);
    // The first run's: later ones may find the chunk still held by the serving thread for an earlier
    // engine not collected yet (chunks are shared there by hash).
    if (i === 0) mountFetched = w.fetched;
    await m.unmount();
    t = performance.now();
    const { rows } = await raw.query(`SELECT bytes FROM "${schema}".full_snapshots ORDER BY id DESC LIMIT 1`);
    const m2 = await mount(restoreForMount(rows[0].bytes));
    const out2 = await cat('cat', [`${m2.path}/src/m3/f3.ts`]);
    mountRestoreMs.push(performance.now() - t);
    await m2.unmount();
    if (out.stdout !== out2.stdout) throw new Error('bench: the two mounts disagree');
  }
  const ml = stat(mountLazyMs);
  const mr = stat(mountRestoreMs);
  emit({
    bench: 'store-open-10k-files-mount-cat-one',
    lazy_open_mount_cat_ms: ml.median,
    lazy_open_mount_cat_ms_range: ml.range,
    full_snapshot_restore_mount_cat_ms: mr.median,
    full_snapshot_restore_mount_cat_ms_range: mr.range,
    ratio_lazy_over_restore: Number((ml.median / mr.median).toFixed(3)),
    lazy_fetched_chunks_first_run: mountFetched.chunks,
    lazy_fetched_bytes_first_run: mountFetched.bytes,
  });

  // ---- 3. chunk dedupe across 10 forks with one change each
  const base = await openFromStore(store, 'base');
  fill(base.engine);
  await base.save();
  let logical = 0;
  const before = (await raw.query(`SELECT count(*)::int AS n, coalesce(sum(octet_length(data)), 0)::bigint AS bytes FROM "${schema}".chunks`)).rows[0];
  const forkSent: number[] = [];
  for (let i = 0; i < 10; i++) {
    await base.fork(`fork-${i}`);
    const f = await openFromStore(store, `fork-${i}`);
    f.engine.writeFile(`/src/m${i}/f${i}.ts`, `export const fork = ${i};\n`);
    const saved = await f.save();
    forkSent.push(saved.chunkBytesSent + saved.manifestBytes);
  }
  for (const id of ['base', ...Array.from({ length: 10 }, (_, i) => `fork-${i}`)]) {
    const refs = await store.refsOf((await store.chain((await store.head(id))!.id)).map((c) => c.record.id));
    const { rows } = await raw.query(`SELECT coalesce(sum(octet_length(data)), 0)::bigint AS bytes FROM "${schema}".chunks WHERE hash = ANY($1::bytea[])`, [refs.map((h) => Buffer.from(h, 'hex'))]);
    logical += Number(rows[0].bytes);
  }
  const after = (await raw.query(`SELECT count(*)::int AS n, coalesce(sum(octet_length(data)), 0)::bigint AS bytes FROM "${schema}".chunks`)).rows[0];
  const stored = Number(after.bytes);
  emit({
    bench: 'store-dedupe-10-forks-one-change-each',
    workspaces: 11,
    logical_chunk_bytes: logical,
    stored_chunk_bytes_all_workspaces: stored,
    dedupe_ratio: Number((logical / stored).toFixed(2)),
    bytes_sent_per_fork_save: stat(forkSent).median,
    chunks_added_by_forks: Number(after.n) - Number(before.n),
    note: "'big' and 'base' hold equal trees, so the stored chunks cover both; logical counts the 11 base+fork states",
  });

  // ---- scaling figures: table sizes for the two 10,000-file workspaces and their checkpoints
  emit({ bench: 'store-table-sizes', after_case_1: tables, now: await store.stats() });
} finally {
  await raw.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
  await raw.end();
  await store.close();
  cluster?.stop();
}
