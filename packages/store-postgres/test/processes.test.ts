// Separate worker processes sharing workspaces through a real Postgres: resume elsewhere, lease
// handover after SIGKILL, racing writers, kill -9 during saves, GC while others save.

import { afterAll, describe, expect, inject, it } from 'vitest';
import { LeaseHeldError, checkStore, openFromStore } from '@vws/store';
import pg from 'pg';
import { PostgresStore } from '../src/index.js';
import { cleanHomes, startWorker } from './workers.js';

let n = 0;
const raw = async (sql: string) => {
  const client = new pg.Client(inject('pgUrl'));
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};

const fresh = async () => {
  const schema = `p_${process.pid}_${n++}`;
  const store = await PostgresStore.connect({ connectionString: inject('pgUrl'), schema });
  return { store, env: (ws: string, name: string, extra: Record<string, string> = {}) => ({ PG_URL: inject('pgUrl'), PG_SCHEMA: schema, WS: ws, NAME: name, ...extra }) };
};

afterAll(cleanHomes);

describe('two worker processes share a workspace', () => {
  it('A writes and checkpoints, B resumes it byte for byte (equal tree fingerprint)', async () => {
    const { store, env } = await fresh();
    const a = startWorker('create', env('shared', 'A', { FILES: '2000' }));
    const saved = await a.next('saved');
    expect(await a.exited).toBe(0);
    const b = startWorker('open', env('shared', 'B'));
    const opened = await b.next('opened');
    expect(opened.head).toBe(saved.head);
    expect(opened.fingerprint).toBe(saved.fingerprint);
    await b.next('saved');
    expect(await b.exited).toBe(0);
    // And this process sees B's checkpoint on top.
    const here = await openFromStore(store, 'shared');
    expect(here.engine.readFile('/by-B', 'utf8')).toBe('B');
    expect(here.engine.readFile('/data.bin').length).toBe(300_000);
    await store.close();
  });

  it('B opens lazily, changes one file and checkpoints without fetching anything; C restores it byte for byte', async () => {
    const { store, env } = await fresh();
    const a = startWorker('create', env('lazy', 'A', { FILES: '2000' }));
    await a.next('saved');
    expect(await a.exited).toBe(0);
    const b = startWorker('lazy-edit', env('lazy', 'B'));
    const edited = await b.next('saved');
    expect(await b.exited).toBe(0);
    expect(edited).toMatchObject({ kind: 'delta', chunksSent: 1, fetched: { calls: 0, chunks: 0, bytes: 0 } });
    expect(edited.unfetchedAtOpen).toBeGreaterThan(2000);
    const c = startWorker('restore', env('lazy', 'C'));
    const restored = await c.next('restored');
    expect(await c.exited).toBe(0);
    expect(restored.head).toBe(edited.head);
    expect(restored.fingerprint).toBe(edited.fingerprint);
    await store.close();
  });

  it('after A is killed with SIGKILL, B is told who holds it until when, then takes over at expiry from A\'s last checkpoint', async () => {
    const { store, env } = await fresh();
    const a = startWorker('hold', env('handover', 'worker-A'));
    const held = await a.next('holding');
    a.child.kill('SIGKILL');
    await a.exited;
    const refused = startWorker('open', env('handover', 'worker-B'));
    const err = await refused.next('opened');
    expect(err.event).toBe('error');
    expect(err.class).toBe('LeaseHeldError');
    expect(err.message).toMatch(/workspace 'handover' is held by worker-A until \d{4}-\d\d-\d\dT/);
    await refused.exited;
    const b = startWorker('open', env('handover', 'worker-B', { WAIT_MS: '10000' }));
    const opened = await b.next('opened');
    expect(opened.event).toBe('opened');
    expect(opened.head).toBe(held.head);
    expect(opened.fingerprint).toBe(held.fingerprint);
    expect(opened.files).toContain('by-worker-A');
    await b.next('saved');
    await b.exited;
    await expect(openFromStore(store, 'handover', { lease: { holder: 'C' } })).resolves.toBeTruthy();
    await store.close();
  });

  it('two writers racing: exactly one moves the head, the other gets a conflict and keeps its work in a fork', async () => {
    const { store, env } = await fresh();
    const base = await openFromStore(store, 'race');
    base.engine.writeFile('/base', 'base');
    await base.save();
    const x = startWorker('race', env('race', 'X'));
    const y = startWorker('race', env('race', 'Y'));
    await Promise.all([x.next('ready'), y.next('ready')]);
    x.child.stdin!.write('go\n');
    y.child.stdin!.write('go\n');
    const results = await Promise.all([x, y].map((w) => w.next(['won', 'conflict'])));
    await Promise.all([x.exited, y.exited]);
    const events = results.map((r) => r.event).sort();
    expect(events).toEqual(['conflict', 'won']);
    const loser = results.find((r) => r.event === 'conflict')!;
    const winner = results.find((r) => r.event === 'won')!;
    expect(loser.message).toMatch(/another writer saved first/);
    // Nothing lost: the head has the winner's work, the loser's fork has the loser's.
    const head = await openFromStore(store, 'race');
    expect(head.engine.fingerprint()).toBe(winner.fingerprint);
    const fork = await openFromStore(store, loser.fork as string);
    expect(fork.engine.fingerprint()).toBe(loser.fingerprint);
    await store.close();
  });
});

describe('crash safety', () => {
  it('kill -9 at random points of 50 saves leaves a consistent store: every head restores, every chunk present and hashing right', async () => {
    const { store, env } = await fresh();
    const committed = async () => Number((await store.stats()).checkpoints.rows);
    // First, three kills exactly between a save's upload and its commit: the head stays, the
    // uploaded chunks are orphans (nothing references them), and the store stays consistent.
    const orphans = async () => Number((await store.stats()).chunks.rows) - Number((await raw(`SELECT count(DISTINCT hash) AS n FROM "${store.schema}".checkpoint_chunks`))[0].n);
    for (let k = 0; k < 3; k++) {
      const headBefore = (await store.head('crashy'))?.id ?? null;
      const w = startWorker('saves', env('crashy', 'K', { SAVES: '5', SEED: String(100 + k), PAUSE_BEFORE_COMMIT: '1' }));
      let expected = headBefore;
      if (k > 0) {
        // Let the first save through, then kill during the second (a delta).
        await w.next('committing');
        expected = (await w.next('saved')).head as string;
      }
      const committing = await w.next('committing');
      expect(committing.refs).toBeGreaterThan(0);
      w.child.kill('SIGKILL');
      await w.exited;
      expect((await store.head('crashy'))?.id ?? null).toBe(expected);
      expect(await orphans()).toBeGreaterThan(0);
      await checkStore(store);
    }
    let kills = 3;
    let seed = 1;
    // At least 50 checkpoints committed and 10 workers killed, each at a random moment of its saves.
    while ((await committed()) < 50 || kills < 13) {
      const w = startWorker('saves', env('crashy', 'K', { SAVES: '12', SEED: String(seed++), FULL_EVERY: '6' }));
      await w.next('saved').catch(() => {});
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      if (w.child.exitCode === null) {
        w.child.kill('SIGKILL');
        kills++;
      }
      await w.exited;
      // After every crash the store is consistent and the head is a complete checkpoint.
      const report = await checkStore(store);
      expect(report.heads.get('crashy')).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(kills).toBeGreaterThanOrEqual(13);
    // Nothing a crash left behind trips a later save: a clean run to the end works.
    const last = startWorker('saves', env('crashy', 'K', { SAVES: '3', SEED: '999' }));
    const lines = [await last.next('saved'), await last.next('saved'), await last.next('saved')];
    expect(await last.exited).toBe(0);
    const report = await checkStore(store);
    expect(report.heads.get('crashy')).toBe(lines[2].fingerprint);
    // Orphan chunks from killed uploads are collectable, and collecting them breaks nothing.
    await store.gc({ retainMs: 0 });
    expect((await checkStore(store)).heads.get('crashy')).toBe(lines[2].fingerprint);
    await store.close();
  }, 240_000);

  it('GC with zero retention while two workers save loses nothing reachable', async () => {
    const { store, env } = await fresh();
    const base = await openFromStore(store, 'gc-a');
    base.engine.writeFile('/shared', 'shared by both');
    await base.save();
    await base.fork('gc-b');
    const workers = ['gc-a', 'gc-b'].map((ws, i) => startWorker('saves', env(ws, ws, { SAVES: '25', SEED: String(i + 1), FULL_EVERY: '4' })));
    const finals = workers.map(async (w) => {
      let last: Record<string, unknown> | null = null;
      for (;;) {
        const line = await w.next('saved').catch(() => null);
        if (!line) break;
        expect(line.event, JSON.stringify(line)).toBe('saved');
        last = line;
      }
      expect(await w.exited, w.stderr().slice(-2000)).toBe(0);
      return last!;
    });
    let collected = 0;
    let running = true;
    const all = Promise.all(finals).finally(() => (running = false));
    while (running) {
      collected += (await store.gc({ retainMs: 0 })).chunks;
      await checkStore(store);
    }
    const [a, b] = await all;
    expect(collected).toBeGreaterThan(0);
    const report = await checkStore(store);
    expect(report.heads.get('gc-a')).toBe(a.fingerprint);
    expect(report.heads.get('gc-b')).toBe(b.fingerprint);
    expect((await openFromStore(store, 'gc-b')).engine.readFile('/shared', 'utf8')).toBe('shared by both');
    await store.close();
  }, 240_000);
});

describe('lease errors across processes', () => {
  it('LeaseHeldError is typed in this process too', async () => {
    const { store } = await fresh();
    const a = await openFromStore(store, 'x', { lease: { holder: 'me', ttlMs: 5_000 } });
    await expect(openFromStore(store, 'x', { lease: { holder: 'you' } })).rejects.toBeInstanceOf(LeaseHeldError);
    await a.close();
    await store.close();
  });
});
