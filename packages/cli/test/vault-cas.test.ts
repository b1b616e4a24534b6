// Vaults in the content-addressed store, through the real `vws` binary: what a one-file change
// writes, checkpoints and forks that share data, old-format vaults, damaged files, GC.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InodeFs } from '@vws/inode-fs';
import { run, start, stopDaemons } from './helpers.js';
import { commands, listing } from './damage.js';

const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) {
    await stopDaemons(h);
    rmSync(h, { recursive: true, force: true });
  }
});

function newHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'vws-cas-home-'));
  homes.push(h);
  return h;
}

const vws = async (home: string, args: string[], input?: string) => {
  const r = await run(home, ['--json', ...args], { input, env: { VWS_DAEMON: '0' } });
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout || '{}');
};

/** Every file under dir: path -> size, mtime (to see what a command wrote). */
function files(dir: string, out = new Map<string, { size: number; mtimeMs: number; sha: string }>()): Map<string, { size: number; mtimeMs: number; sha: string }> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.isFile() && e.name !== 'lock' && !e.name.includes('.tmp-')) {
      // A running mount saves meanwhile: a file may go between readdir and read.
      try {
        const st = statSync(p);
        out.set(p, { size: st.size, mtimeMs: st.mtimeMs, sha: createHash('sha256').update(readFileSync(p)).digest('hex') });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return out;
}

/** Bytes of the files that are new or changed between two listings. */
function written(before: ReturnType<typeof files>, after: ReturnType<typeof files>): number {
  let n = 0;
  for (const [p, f] of after) if (before.get(p)?.sha !== f.sha) n += f.size;
  return n;
}

const chunkFiles = (home: string) => [...files(join(home, 'store', 'chunks')).keys()].length;

/** A host tree of n files (~size bytes each) to import. */
function hostTree(n: number, size: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'vws-cas-host-'));
  homes.push(dir);
  for (let i = 0; i < n; i++) {
    const d = join(dir, `pkg${i % 50}`, `sub${i % 7}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.js`), `// file ${i}\n${'x'.repeat(size)}\n`);
  }
  return dir;
}

describe('vaults in the store', () => {
  it('a one-file change writes that chunk and a small delta; checkpoint save and fork write no chunk', async () => {
    const home = newHome();
    await vws(home, ['vault', 'create', 'big']);
    await vws(home, ['--vault', 'big', 'import', hostTree(3000, 10_000), '/app']);
    const chunks = chunkFiles(home);
    expect(chunks).toBeGreaterThanOrEqual(3000);

    let before = files(home);
    await vws(home, ['--vault', 'big', 'write', '/app/pkg3/sub3/f3.js', 'changed']);
    const bytes = written(before, files(home));
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(16 * 1024);
    expect(chunkFiles(home)).toBe(chunks + 1);

    before = files(home);
    await vws(home, ['--vault', 'big', 'checkpoint', 'save', 'v1']);
    expect(written(before, files(home))).toBeLessThan(4096); // meta.json and refs.json
    expect(chunkFiles(home)).toBe(chunks + 1);

    await vws(home, ['vault', 'fork', 'big', 'copy']);
    expect(chunkFiles(home)).toBe(chunks + 1);
    await vws(home, ['--vault', 'copy', 'write', '/app/new.txt', 'only in the fork']);
    expect(chunkFiles(home)).toBe(chunks + 2);
    expect((await vws(home, ['--vault', 'copy', 'cat', '/app/pkg3/sub3/f3.js'])).content).toBe('changed');
    expect((await run(home, ['--json', '--vault', 'big', 'cat', '/app/new.txt'])).code).toBe(6);

    // Through exec too (in-process here): the same small write.
    before = files(home);
    await vws(home, ['--vault', 'big', 'exec', '--', 'sh', '-c', 'echo more >> app/pkg1/sub1/f1.js']);
    expect(written(before, files(home))).toBeLessThan(64 * 1024);

    // diff of a checkpoint with itself, and of an unchanged vault, reads no chunk: equal state ids.
    await vws(home, ['--vault', 'copy', 'checkpoint', 'save', 'same']);
    const d = await vws(home, ['--vault', 'copy', 'diff']);
    expect(d).toEqual({ from: 'same', to: 'current', added: [], modified: [], deleted: [], renamed: [] });
    const d2 = await vws(home, ['--vault', 'big', 'diff', 'v1']);
    expect(d2.modified).toEqual(['/app/pkg1/sub1/f1.js']);
  }, 120_000);

  it("a mount's periodic save writes the change, not the vault", async () => {
    const home = newHome();
    await vws(home, ['vault', 'create', 'm']);
    await vws(home, ['--vault', 'm', 'import', hostTree(2000, 10_000), '/app']);
    const dir = mkdtempSync(join(tmpdir(), 'vws-cas-mnt-'));
    homes.push(dir);
    const child = start(home, ['--json', '--vault', 'm', 'mount', dir], { env: { VWS_MOUNT_SAVE_MS: '200' } });
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      const deadline = Date.now() + 20_000;
      while (!out.includes('\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(JSON.parse(out), `vws mount needs FUSE here: ${err}`).toMatchObject({ mounted: dir, vault: 'm' });
      const head = () => readdirSync(join(home, 'store', 'workspaces')).map((w) => readFileSync(join(home, 'store', 'workspaces', w, 'refs.json'), 'utf8')).join();
      for (let round = 0; round < 3; round++) {
        const before = files(home);
        const was = head();
        // Another process's mount: asynchronous host I/O on it is fine here.
        await writeFile(join(dir, 'app', 'pkg1', 'sub1', 'f1.js'), `mounted write ${round}\n`);
        const until = Date.now() + 10_000;
        while (head() === was && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        expect(head(), 'the periodic save moved the head').not.toBe(was);
        expect(written(before, files(home))).toBeLessThan(64 * 1024);
      }
    } finally {
      if (child.exitCode === null) await run(home, ['unmount', dir]);
      await exited;
    }
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${dir} `);
    expect((await vws(home, ['--vault', 'm', 'cat', '/app/pkg1/sub1/f1.js'])).content).toBe('mounted write 2\n');
  }, 120_000);

  it('an old vault (state.snap) opens as it is and moves into the store at its first write', async () => {
    const home = newHome();
    const dir = join(home, 'vaults', 'old');
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    const fs = new InodeFs();
    fs.writeFile('/a.txt', 'first');
    writeFileSync(join(dir, 'checkpoints', 'v1.snap'), fs.snapshot());
    fs.writeFile('/a.txt', 'second');
    fs.mkdir('/d');
    fs.writeFile('/d/b.txt', 'bee');
    writeFileSync(join(dir, 'state.snap'), fs.snapshot());
    const now = new Date().toISOString();
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ name: 'old', createdAt: now, updatedAt: now, checkpoints: { v1: { createdAt: now, bytes: 100 } } }));

    expect((await vws(home, ['--vault', 'old', 'cat', '/a.txt'])).content).toBe('second');
    expect((await vws(home, ['--vault', 'old', 'diff', 'v1'])).modified).toEqual(['/a.txt']);
    expect(existsSync(join(dir, 'state.snap'))).toBe(true);

    await vws(home, ['--vault', 'old', 'write', '/c.txt', 'sea']);
    expect(existsSync(join(dir, 'state.snap'))).toBe(false);
    expect(existsSync(join(dir, 'checkpoints'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).format).toBe(2);
    expect((await vws(home, ['--vault', 'old', 'cat', '/d/b.txt'])).content).toBe('bee');
    expect((await vws(home, ['--vault', 'old', 'cat', '/c.txt'])).content).toBe('sea');
    const diff = await vws(home, ['--vault', 'old', 'diff', 'v1']);
    expect(diff.modified).toEqual(['/a.txt']);
    expect(diff.added.sort()).toEqual(['/c.txt', '/d', '/d/b.txt']);
    await vws(home, ['--vault', 'old', 'checkpoint', 'restore', 'v1']);
    expect((await vws(home, ['--vault', 'old', 'cat', '/a.txt'])).content).toBe('first');
  }, 60_000);

  it('gc keeps every vault, checkpoint and fork, and drops what a deleted vault alone held', async () => {
    const home = newHome();
    await vws(home, ['vault', 'create', 'a']);
    await vws(home, ['--vault', 'a', 'write', '/keep.txt', 'kept by a checkpoint']);
    await vws(home, ['--vault', 'a', 'checkpoint', 'save', 'k']);
    await vws(home, ['--vault', 'a', 'rm', '/keep.txt']);
    await vws(home, ['vault', 'fork', 'a', 'b']);
    await vws(home, ['--vault', 'b', 'write', '/fork.txt', 'kept by the fork']);
    await vws(home, ['vault', 'create', 'gone']);
    await vws(home, ['--vault', 'gone', 'write', '/gone.txt', 'only in a deleted vault']);
    await vws(home, ['vault', 'delete', 'gone']);
    const hash = createHash('sha256').update('only in a deleted vault').digest('hex');
    const gc = await vws(home, ['--vault', 'a', 'gc']);
    expect(gc.store.workspaces).toBe(0); // a deleted vault's workspace is dropped at delete
    expect(existsSync(join(home, 'store', 'chunks', hash.slice(0, 2), hash))).toBe(false);
    expect((await vws(home, ['--vault', 'b', 'cat', '/fork.txt'])).content).toBe('kept by the fork');
    await vws(home, ['--vault', 'a', 'checkpoint', 'restore', 'k']);
    expect((await vws(home, ['--vault', 'a', 'cat', '/keep.txt'])).content).toBe('kept by a checkpoint');
  }, 60_000);
});

describe('damaged vault files: exit 4 within 5 s, one line naming the file, nothing changed', () => {
  const cases: Array<[string, (dir: string, home: string) => void, RegExp]> = [
    ['meta.json is a JSON array', (d) => writeFileSync(join(d, 'meta.json'), '[1,2,3]'), /meta\.json: \(top\): /],
    ['meta.json misses fields', (d) => writeFileSync(join(d, 'meta.json'), '{"name":"v"}'), /meta\.json: createdAt: /],
    ['meta.json has a string quota', (d) => patchMeta(d, (m) => (m.quota = { bytes: '100' })), /meta\.json: quota\.bytes: /],
    ['meta.json names a checkpoint ../x', (d) => patchMeta(d, (m) => (m.checkpoints = { '../x': { createdAt: 'now', bytes: 1 } })), /meta\.json: checkpoints\.\.\.\/x: /],
    ['meta.json is not JSON', (d) => writeFileSync(join(d, 'meta.json'), '{"na'), /meta\.json: is not JSON/],
    ['meta.json is a symlink', (d) => {
      writeFileSync(join(d, 'real.json'), readFileSync(join(d, 'meta.json')));
      rmSync(join(d, 'meta.json'));
      symlinkSync(join(d, 'real.json'), join(d, 'meta.json'));
    }, /meta\.json: is a symbolic link/],
    ['meta.json is a FIFO', (d) => {
      rmSync(join(d, 'meta.json'));
      expect(spawnSync('mkfifo', [join(d, 'meta.json')]).status).toBe(0);
    }, /meta\.json: is not a regular file/],
    ['meta.json is a directory', (d) => {
      rmSync(join(d, 'meta.json'));
      mkdirSync(join(d, 'meta.json'));
    }, /meta\.json: is not a regular file/],
    ['a chunk is damaged', (_d, home) => {
      const hash = createHash('sha256').update('precious').digest('hex');
      writeFileSync(join(home, 'store', 'chunks', hash.slice(0, 2), hash), 'garbage!');
    }, /chunk [0-9a-f]{64} is damaged/],
    ['a manifest is damaged', (_d, home) => {
      const dir = join(home, 'store', 'checkpoints');
      for (const f of readdirSync(dir).filter((f) => f.endsWith('.manifest'))) writeFileSync(join(dir, f), Buffer.alloc(statSync(join(dir, f)).size, 7));
    }, /checkpoints\/[0-9a-f-]+\.manifest is damaged/],
  ];

  for (const [what, damage, message] of cases) {
    it(what, async () => {
      const home = newHome();
      await vws(home, ['vault', 'create', 'v']);
      await vws(home, ['--vault', 'v', 'write', '/f.txt', 'precious']);
      const dir = join(home, 'vaults', 'v');
      damage(dir, home);
      const snapshot = listing(home);
      for (const args of [['cat', '/f.txt'], ['write', '/g.txt', 'x']]) {
        const t0 = Date.now();
        const r = await run(home, ['--vault', 'v', ...args], { env: { VWS_DAEMON: '0' } });
        expect(Date.now() - t0).toBeLessThan(5_000);
        expect(r.code, r.stderr).toBe(4);
        const lines = r.stderr.trim().split('\n');
        expect(lines.length, r.stderr).toBe(1);
        expect(lines[0]).toMatch(message);
      }
      expect(listing(home)).toEqual(snapshot);
    }, 30_000);
  }

  it('vault create refuses a directory that holds vault data but lost its meta.json', async () => {
    const home = newHome();
    await vws(home, ['vault', 'create', 'd']);
    await vws(home, ['--vault', 'd', 'write', '/f.txt', 'data']);
    rmSync(join(home, 'vaults', 'd', 'meta.json'));
    writeFileSync(join(home, 'vaults', 'd', 'leftover'), 'x');
    const before = listing(home);
    const r = await run(home, ['vault', 'create', 'd']);
    expect(r.code).toBe(4);
    expect(r.stderr.trim()).toMatch(/vaults\/d exists and holds data but no meta\.json/);
    expect(listing(home)).toEqual(before);
  });
});

describe('every command on a damaged vault: exit 4 within 5 s, one line, nothing changed', () => {
  // Commands that read file contents (a damaged chunk is found by what reads it).
  const reading = new Set(['cat', 'write', 'exec', 'grep', 'export', 'cp', 'patch']);
  // Commands that load the tree (a damaged manifest is found by what loads it; `checkpoint save`,
  // `checkpoint list`, `log` and `vault fork` name or list saved states without loading one).
  const loading = { has: (c: string) => !['checkpoint', 'log', 'vault'].includes(c) } as Set<string>;
  const manifests = (home: string) => readdirSync(join(home, 'store', 'checkpoints')).filter((f) => f.endsWith('.manifest')).map((f) => join(home, 'store', 'checkpoints', f));
  const cases: Array<{ what: string; damage: (dir: string, home: string) => void; message: RegExp; only?: Set<string> }> = [
    { what: 'meta.json is a FIFO', damage: (d) => (rmSync(join(d, 'meta.json')), expect(spawnSync('mkfifo', [join(d, 'meta.json')]).status).toBe(0)), message: /meta\.json: is not a regular file/ },
    { what: 'meta.json is a symlink to /dev/zero', damage: (d) => (rmSync(join(d, 'meta.json')), symlinkSync('/dev/zero', join(d, 'meta.json'))), message: /meta\.json: is a symbolic link/ },
    { what: 'meta.json is a JSON array', damage: (d) => writeFileSync(join(d, 'meta.json'), '[1,2,3]'), message: /meta\.json: \(top\): / },
    { what: 'meta.json is empty', damage: (d) => writeFileSync(join(d, 'meta.json'), ''), message: /meta\.json: is not JSON/ },
    { what: 'meta.json is truncated', damage: (d) => writeFileSync(join(d, 'meta.json'), readFileSync(join(d, 'meta.json')).subarray(0, 20)), message: /meta\.json: is not JSON/ },
    { what: 'meta.json has a flipped bit', damage: (d) => writeFileSync(join(d, 'meta.json'), readFileSync(join(d, 'meta.json'), 'utf8').replace('"workspace"', '"workspacd"')), message: /meta\.json: / },
    { what: 'meta.json is a symlink loop', damage: (d) => (rmSync(join(d, 'meta.json')), symlinkSync('meta.json', join(d, 'meta.json'))), message: /meta\.json: is a symbolic link/ },
    { what: 'meta.json is a directory', damage: (d) => (rmSync(join(d, 'meta.json')), mkdirSync(join(d, 'meta.json'))), message: /meta\.json: is not a regular file/ },
    { what: 'meta.json is a device', damage: (d) => (rmSync(join(d, 'meta.json')), expect(spawnSync('mknod', [join(d, 'meta.json'), 'c', '1', '3']).status).toBe(0)), message: /meta\.json: is not a regular file/ },
    { what: 'the manifests are truncated', damage: (_d, home) => manifests(home).forEach((f) => writeFileSync(f, readFileSync(f).subarray(0, 10))), message: /\.manifest: holds 10 bytes/, only: loading },
    { what: 'the manifests have a flipped bit', damage: (_d, home) => manifests(home).forEach((f) => { const b = readFileSync(f); b[b.length >> 1] ^= 1; writeFileSync(f, b); }), message: /\.manifest is damaged/, only: loading },
    { what: 'the manifests are empty', damage: (_d, home) => manifests(home).forEach((f) => writeFileSync(f, '')), message: /\.manifest/, only: loading },
    {
      what: 'a chunk is damaged',
      damage: (_d, home) => {
        const hash = createHash('sha256').update('precious').digest('hex');
        writeFileSync(join(home, 'store', 'chunks', hash.slice(0, 2), hash), 'garbage!');
      },
      message: /chunk [0-9a-f]{64} is damaged/,
      only: reading,
    },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      const home = newHome();
      const out = mkdtempSync(join(tmpdir(), 'vws-cas-out-'));
      homes.push(out);
      await vws(home, ['vault', 'create', 'v']);
      await vws(home, ['--vault', 'v', 'write', '/f.txt', 'precious']);
      await vws(home, ['--vault', 'v', 'checkpoint', 'save', 'c1']);
      await vws(home, ['--vault', 'v', 'write', '/f.txt', 'precious']); // the head differs from c1 only in times
      c.damage(join(home, 'vaults', 'v'), home);
      const before = listing(home);
      const todo = commands(out).filter((args) => !c.only || c.only.has(args[0]));
      // A few at a time: each is a process of its own.
      for (let i = 0; i < todo.length; i += 4) {
        await Promise.all(
          todo.slice(i, i + 4).map(async (args) => {
            const t0 = Date.now();
            const r = await run(home, ['--vault', 'v', ...args], { env: { VWS_DAEMON: '0' } });
            const what = `vws ${args.join(' ')} -> ${r.code}: ${r.stderr}`;
            expect(Date.now() - t0, what).toBeLessThan(5_000);
            expect(r.code, what).toBe(4);
            expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
            expect(r.stderr, what).toMatch(c.message);
          }),
        );
      }
      expect(listing(home)).toEqual(before);
      expect(existsSync(join(out, 'exported'))).toBe(false);
    }, 120_000);
  }

  it('the exec daemon serves a healthy vault in its usual time while a damaged one is being opened', async () => {
    const home = newHome();
    for (const v of ['ok', 'bad']) {
      await vws(home, ['vault', 'create', v]);
      await vws(home, ['--vault', v, 'write', '/f.txt', v]);
    }
    expect((await run(home, ['--vault', 'ok', 'exec', '--', 'true'])).code).toBe(0); // the daemon is up
    const dir = join(home, 'vaults', 'bad');
    rmSync(join(dir, 'meta.json'));
    expect(spawnSync('mkfifo', [join(dir, 'meta.json')]).status).toBe(0);
    const t0 = Date.now();
    const [bad, good] = await Promise.all([run(home, ['--vault', 'bad', 'exec', '--', 'true']), run(home, ['--vault', 'ok', 'exec', '--', 'sh', '-c', 'cat f.txt'])]);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(bad.code, bad.stderr).toBe(4);
    expect(bad.stderr).toMatch(/meta\.json: is not a regular file/);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('ok');
    const status = await run(home, ['--json', 'daemon', 'status']);
    expect(status.code, status.stderr).toBe(0);
  }, 60_000);
});

function patchMeta(dir: string, fn: (m: Record<string, unknown>) => void): void {
  const m = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  fn(m);
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(m));
}
