import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskStore, HeadConflictError, StoreDamagedError, checkStore, openFromStore, sha256 } from '../src/index.js';
import { fillTree, storeContract } from './contract.js';
import { lazyContract } from './lazy-contract.js';

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'vws-disk-store-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hooks: Parameters<typeof storeContract>[1] = {
  make: async () => new DiskStore(freshDir()),
  damageChunk: async (store, hash) => {
    writeFileSync((store as DiskStore).chunkPath(hash), 'not what it was');
  },
};
storeContract('DiskStore', hooks);
lazyContract('DiskStore', hooks);

describe('DiskStore on disk', () => {
  it('a second DiskStore on the same directory sees the head and loses the compare-and-set race cleanly', async () => {
    const root = freshDir();
    const a = await openFromStore(new DiskStore(root), 'w');
    a.engine.writeFile('/f', 'one');
    await a.save();
    const b = await openFromStore(new DiskStore(root), 'w');
    expect(b.engine.readFile('/f', 'utf8')).toBe('one');
    a.engine.writeFile('/f', 'two');
    await a.save();
    b.engine.writeFile('/f', 'other');
    await expect(b.save()).rejects.toThrow(HeadConflictError);
    expect((await openFromStore(new DiskStore(root), 'w')).engine.readFile('/f', 'utf8')).toBe('two');
  });

  it('writers in several processes: compare-and-set loses no update', async () => {
    const root = freshDir();
    const seed = await openFromStore(new DiskStore(root), 'shared');
    seed.engine.writeFile('/seed', 'x');
    await seed.save();
    const N = 12;
    const runs = ['a', 'b', 'c'].map(
      (tag) =>
        new Promise<{ conflicts: number }>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(import.meta.dirname, 'disk-contender.ts'), root, tag, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          child.stdout!.on('data', (d) => (out += d));
          child.stderr!.on('data', (d) => (err += d));
          child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`contender ${tag} exited ${code}: ${err}`))));
        }),
    );
    await Promise.all(runs);
    const final = await openFromStore(new DiskStore(root), 'shared');
    for (const tag of ['a', 'b', 'c']) for (let i = 0; i < N; i++) expect(final.engine.readFile(`/${tag}-${i}`, 'utf8')).toBe(`${tag} ${i}`);
    await checkStore(new DiskStore(root));
    expect(readdirSync(root)).not.toContain('lock');
  }, 60_000);

  it('a chunk that is a symlink, a FIFO or a directory is refused as damaged, without blocking', async () => {
    for (const kind of ['symlink', 'fifo', 'dir'] as const) {
      const root = freshDir();
      const store = new DiskStore(root);
      const a = await openFromStore(store, 'w');
      a.engine.writeFile('/f', `precious ${kind}`);
      await a.save();
      const path = store.chunkPath(sha256(new TextEncoder().encode(`precious ${kind}`)));
      rmSync(path);
      if (kind === 'symlink') {
        writeFileSync(`${path}.target`, `precious ${kind}`);
        symlinkSync(`${path}.target`, path);
      } else if (kind === 'fifo') expect(spawnSync('mkfifo', [path]).status).toBe(0);
      else mkdirSync(path);
      const err = await openFromStore(store, 'w').catch((e) => e);
      expect(err).toBeInstanceOf(StoreDamagedError);
      expect(err.message).toContain(path);
    }
  });

  it('a damaged record or head file is named in the error', async () => {
    const root = freshDir();
    const store = new DiskStore(root);
    const a = await openFromStore(store, 'w');
    a.engine.writeFile('/f', 'x');
    const saved = await a.save();
    const record = join(root, 'checkpoints', `${saved.checkpoint.id}.json`);
    writeFileSync(record, '[1,2]');
    const err = await openFromStore(store, 'w').catch((e) => e);
    expect(err).toBeInstanceOf(StoreDamagedError);
    expect(err.message).toMatch(new RegExp(`${saved.checkpoint.id}\\.json: is not a checkpoint record`));
  });

  it('gc keeps reachable data and takes chunks nothing references', async () => {
    const root = freshDir();
    const store = new DiskStore(root);
    // Every save full: no delta chain keeps an older save's chunks reachable.
    const a = await openFromStore(store, 'w', { fullEvery: 1 });
    fillTree(a.engine, 100);
    a.engine.writeFile('/gone', 'soon unreferenced');
    await a.save({ name: 'keep' });
    await a.fork('w-fork');
    a.engine.unlink('/gone');
    a.engine.writeFile('/tmp', 'temporary');
    await a.save();
    a.engine.unlink('/tmp');
    await a.save();
    const r = await store.gc({ retainMs: 0 });
    expect(r.chunks).toBe(1); // 'temporary'; '/gone' is still held by the name and the fork
    expect(existsSync(store.chunkPath(sha256(new TextEncoder().encode('temporary'))))).toBe(false);
    const report = await checkStore(store);
    expect(report.heads.get('w')).toBe(a.engine.fingerprint());
    expect((await openFromStore(store, 'w-fork')).engine.readFile('/gone', 'utf8')).toBe('soon unreferenced');
  });

  it('kill -9 during saves leaves every head at a saved state and the store consistent', async () => {
    const root = freshDir();
    const seen = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(import.meta.dirname, 'disk-writer.ts'), root], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      let saves = 0;
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const msg = JSON.parse(line);
          seen.add(msg.fingerprint);
          // Kill after a few saves, at a random moment inside the next ones.
          if (msg.event === 'saved' && ++saves === 3 + round) setTimeout(() => (child.kill('SIGKILL'), resolve()), Math.random() * 40);
        });
        child.on('exit', (code, sig) => (sig === 'SIGKILL' ? resolve() : reject(new Error(`writer exited ${code}: ${stderr}`))));
      });
      await exited;
      const report = await checkStore(new DiskStore(root));
      // The head is a state some save completed (or the one before the save the kill cut short).
      expect(seen.has(report.heads.get('w')!)).toBe(true);
    }
    await new DiskStore(root).gc({ retainMs: 0 });
    await checkStore(new DiskStore(root));
    expect(readdirSync(root).sort()).toEqual(['checkpoints', 'chunks', 'workspaces']);
  }, 60_000);
});


describe('DiskStore.lackingChunksSync', () => {
  it('names the chunks the store lacks (absent, or cut short) and makes the present ones young again', () => {
    const store = new DiskStore(freshDir());
    const a = Buffer.from('chunk a');
    const b = Buffer.from('chunk b, longer');
    store.putChunksSync(new Map([[sha256(a), a], [sha256(b), b]]));
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(store.chunkPath(sha256(a)), old, old);
    writeFileSync(store.chunkPath(sha256(b)), b.subarray(0, 3)); // cut short (a power loss before its sync)
    const c = sha256(Buffer.from('never stored'));
    expect(store.lackingChunksSync([[sha256(a), a.length], [sha256(b), b.length], [c, 12]])).toEqual([sha256(b), c]);
    expect(statSync(store.chunkPath(sha256(a))).mtimeMs).toBeGreaterThan(old.getTime() + 1_000);
    expect(() => store.lackingChunksSync([['nothex', 1]])).toThrow(/not a chunk hash/);
  });
});
