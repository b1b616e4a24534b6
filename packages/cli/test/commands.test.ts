// The real `vws` binary for the commands beyond the core set: tree, find, grep, cp, mv, import/export
// (directory and tar), patch, log, quota, gc, shell, mount/unmount — output, --json and exit codes.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, stopDaemons } from './helpers.js';

let home: string;
let host: string;
const spawned: ChildProcess[] = [];
const mountDirs: string[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  host = mkdtempSync(join(tmpdir(), 'vws-host-'));
  expect((await run(home, ['vault', 'create', 'x'])).code).toBe(0);
});
afterAll(async () => {
  // Reap what we started and detach what it mounted, even when a test failed half-way.
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of mountDirs) if (readFileSync('/proc/mounts', 'utf8').includes(` ${d} `)) spawnSync('fusermount', ['-uz', d], { cwd: '/' });
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

const ok = async (args: string[], input?: string) => {
  const r = await run(home, ['--vault', 'x', ...args], { input });
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
};
const j = async (args: string[], input?: string) => JSON.parse((await ok(['--json', ...args], input)).stdout);
const fails = async (args: string[], code: number) => {
  const r = await run(home, ['--json', '--vault', 'x', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(code);
  return JSON.parse(r.stdout).error as { message: string; exitCode: number };
};

describe('vws import/export', () => {
  it('imports a host tree with modes, symlinks, hard links and mtimes, and exports it back identically', async () => {
    const src = join(host, 'src');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'README'), 'read me\n');
    writeFileSync(join(src, 'bin', 'run.sh'), '#!/bin/sh\necho run\n');
    chmodSync(join(src, 'bin', 'run.sh'), 0o751);
    symlinkSync('../README', join(src, 'bin', 'readme-link'));
    linkSync(join(src, 'README'), join(src, 'README.hard'));
    execFileSync('touch', ['-m', '-d', '2020-01-02T03:04:05Z', join(src, 'README')]);

    const imp = await j(['import', src, '/proj']);
    expect(imp).toMatchObject({ to: '/proj', files: 2, directories: 1, symlinks: 1, bytes: 8 + 19 });
    expect(await j(['stat', '/proj/bin/run.sh'])).toMatchObject({ kind: 'file', mode: '0751' });
    expect((await j(['stat', '/proj/README'])).nlink).toBe(2);
    expect((await j(['stat', '/proj/README'])).mtime).toBe('2020-01-02T03:04:05.000Z');

    const out = join(host, 'out');
    expect(await j(['export', out, '/proj'])).toMatchObject({ format: 'directory', files: 2, symlinks: 1 });
    expect(readFileSync(join(out, 'README'), 'utf8')).toBe('read me\n');
    expect(statSync(join(out, 'bin', 'run.sh')).mode & 0o7777).toBe(0o751);
    expect(readlinkSync(join(out, 'bin', 'readme-link'))).toBe('../README');
    expect(statSync(join(out, 'README')).ino).toBe(statSync(join(out, 'README.hard')).ino);
    expect(statSync(join(out, 'README')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');

    const tar = join(host, 'proj.tar');
    expect(await j(['export', tar, '/proj'])).toMatchObject({ format: 'tar' });
    const listing = execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' });
    expect(listing).toMatch(/-rwxr-x--x .* \.\/bin\/run\.sh/);
    expect(listing).toMatch(/\.\/bin\/readme-link -> \.\.\/README/);
  });

  it('refuses a missing host directory, a non-empty target and an existing tar (exit 2)', async () => {
    expect((await fails(['import', join(host, 'nope')], 2)).message).toMatch(/not a directory/);
    const full = join(host, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'f'), '');
    writeFileSync(join(host, 'old.tar'), '');
    expect((await fails(['export', full], 2)).message).toMatch(/not empty/);
    expect((await fails(['export', join(host, 'old.tar')], 2)).message).toMatch(/exists already/);
  });
});

describe('vws files', () => {
  it('tree, find, grep, cp, mv', async () => {
    expect((await j(['tree', '/proj'])).entries.map((e: { path: string }) => e.path)).toEqual(['/proj/README', '/proj/README.hard', '/proj/bin', '/proj/bin/readme-link', '/proj/bin/run.sh']);
    expect((await ok(['tree', '/proj'])).stdout).toMatch(/readme-link -> \.\.\/README/);
    expect((await j(['find', '/', '--name', '*.sh'])).paths).toEqual(['/proj/bin/run.sh']);
    expect((await j(['find', '/proj', '--type', 'l'])).paths).toEqual(['/proj/bin/readme-link']);
    expect((await j(['grep', '-i', 'ECHO', '/proj'])).matches).toEqual([{ path: '/proj/bin/run.sh', line: 2, text: 'echo run' }]);
    const none = await run(home, ['--vault', 'x', 'grep', 'absent-text', '/proj']);
    expect(none.code).toBe(1);

    expect(await j(['cp', '-r', '/proj/bin', '/bin2'])).toEqual({ copied: '/proj/bin', to: '/bin2', entries: 3 });
    expect(await j(['stat', '/bin2/run.sh'])).toMatchObject({ mode: '0751' });
    expect((await fails(['cp', '/proj', '/proj3'], 2)).message).toMatch(/is a directory/);
    await ok(['mv', '/bin2/run.sh', '/bin2/go.sh']);
    expect((await j(['ls', '/bin2'])).entries.map((e: { name: string }) => e.name).sort()).toEqual(['go.sh', 'readme-link']);
    expect((await fails(['mv', '/missing', '/y'], 6)).message).toMatch(/ENOENT|no such/i);
    expect((await fails(['find', '/', '--type', 'q'], 2)).message).toMatch(/--type/);
  });
});

describe('vws quota', () => {
  it('sets limits that writes, commands in exec and forks obey; never below what the vault holds', async () => {
    const q = async (args: string[], code = 0) => {
      const r = await run(home, ['--json', '--vault', 'qv', ...args]);
      expect(r.code, r.stdout + r.stderr).toBe(code);
      return JSON.parse(r.stdout);
    };
    expect((await run(home, ['vault', 'create', 'qv'])).code).toBe(0);
    await q(['exec', '--', 'true']); // an exec daemon holds the tree from now on: it must see the new limits
    expect(await q(['quota', '--bytes', '64K', '--inodes', '50'])).toEqual({ vault: 'qv', bytes: { used: 0, limit: 65536 }, inodes: { used: 1, limit: 50 } });
    // Through FUSE, a command gets ENOSPC as from a full disk; what fitted is kept.
    const e = await q(['exec', '--', 'sh', '-c', 'head -c 200000 /dev/zero > big'], 1);
    expect(e.exitCode).toBe(1);
    expect(e.stderr).toMatch(/No space left on device/);
    expect((await q(['quota'])).bytes.used).toBeLessThanOrEqual(65536);
    const inodes = await q(['exec', '--', 'sh', '-c', 'rm big; for i in $(seq 1 80); do touch f$i || exit 9; done'], 9);
    expect(inodes.exitCode).toBe(9);
    // Usage is what the tree holds (the root and its files), however many inodes the exec's kernel
    // still held when it was saved; the limit was reached inside the exec.
    const used = (await q(['quota'])).inodes.used;
    expect(used).toBe(1 + (await q(['ls', '/'])).entries.length);
    expect(used).toBeGreaterThanOrEqual(49);
    if (used < 50) await q(['write', '/last', 'x']); // the inode a file deleted in the exec gave back
    // Through the API: the typed error, the vault unchanged.
    const w = await q(['write', '/w', 'x'], 6);
    expect(w.error).toMatchObject({ code: 'ENOSPC', exitCode: 6 });
    // A fork keeps the limits; a limit below the usage is refused; a bad size is a usage error.
    expect((await run(home, ['vault', 'fork', 'qv', 'qv2'])).code).toBe(0);
    expect(JSON.parse((await run(home, ['--json', '--vault', 'qv2', 'quota'])).stdout).inodes.limit).toBe(50);
    expect((await q(['quota', '--inodes', '10'], 2)).error.message).toMatch(/holds 50 inodes, more than the limit 10/);
    expect((await run(home, ['--vault', 'qv', 'quota', '--bytes', '12Q'])).code).toBe(2);
    expect(await q(['quota', '--bytes', '1.5M'])).toMatchObject({ bytes: { limit: 1572864 }, inodes: { limit: 50 } });
  });
});

describe('vws history and maintenance', () => {
  it('patch, log, quota, gc', async () => {
    await ok(['checkpoint', 'save', 'before']);
    await ok(['write', '/proj/README', 'changed\n']);
    const patch = await j(['patch']);
    expect(patch.from).toBe('before');
    // README.hard is the same inode: its content changed too.
    expect(patch.files.map((f: { path: string }) => f.path)).toEqual(['/proj/README', '/proj/README.hard']);
    expect(patch.files[0].patch).toMatch(/-read me\n\+changed\n/);
    expect((await ok(['patch', 'before'])).stdout).toMatch(/^--- a\/proj\/README/m);
    expect((await j(['diff', '--patch', 'before'])).files).toEqual(patch.files);

    const log = await j(['log']);
    expect(log.checkpoints.map((c: { name: string }) => c.name)).toEqual(['before']);
    expect(log.checkpoints[0].bytes).toBeGreaterThan(0);
    expect(log.current.files).toBeGreaterThan(5);

    const q = await j(['quota']);
    expect(q.bytes.used).toBeGreaterThan(0);
    expect(q.bytes.limit).toBeGreaterThan(q.bytes.used);
    expect(q.inodes.limit).toBeGreaterThan(q.inodes.used);

    // Garbage a crash can leave: a temp file of a dead writer, and a chunk in the store nothing references.
    const dir = join(home, 'vaults', 'x');
    writeFileSync(join(dir, 'meta.json.tmp-999999'), 'half written');
    const orphan = 'x'.repeat(1000);
    const hash = createHash('sha256').update(orphan).digest('hex');
    const chunk = join(home, 'store', 'chunks', hash.slice(0, 2), hash);
    mkdirSync(join(chunk, '..'), { recursive: true });
    writeFileSync(chunk, orphan);
    const gc = await j(['gc']);
    expect(gc.removed).toEqual(['meta.json.tmp-999999']);
    expect(gc.store.chunks).toBeGreaterThanOrEqual(1);
    expect(gc.reclaimed).toBeGreaterThanOrEqual(1000);
    expect(existsSync(join(dir, 'meta.json.tmp-999999'))).toBe(false);
    expect(existsSync(chunk)).toBe(false);
    expect((await j(['diff', 'before'])).modified).toEqual(['/proj/README', '/proj/README.hard']);
    expect((await j(['cat', '/proj/README'])).content).toBe('changed\n');
    expect((await fails(['patch', 'nope'], 3)).message).toMatch(/no checkpoint 'nope'/);
  });
});

const fuse = existsSync('/dev/fuse') && spawnSync('which', ['fusermount']).status === 0;

describe('vws shell, mount, unmount', () => {
  it('shell runs an interactive shell in the vault, returns its exit code and persists', async () => {
    // HOME is the vault's root, as for exec; npm's cache goes outside it; a CA setting passes through.
    const r = await run(home, ['--vault', 'x', 'shell'], { input: 'pwd > where.txt; echo from-shell > s.txt; echo "$HOME|$npm_config_cache|$NODE_EXTRA_CA_CERTS" > env.txt; exit 3\n', env: { NODE_EXTRA_CA_CERTS: '/my/ca.pem' } });
    if (!fuse) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/fuse/i);
      return;
    }
    expect(r.code, r.stderr).toBe(3);
    expect((await j(['cat', '/s.txt'])).content).toBe('from-shell\n');
    const where = (await j(['cat', '/where.txt'])).content as string;
    expect(where).toMatch(/vws-mnt-/);
    expect((await j(['cat', '/env.txt'])).content).toBe(`${where.trim()}|${join(home, 'cache/x/npm')}|/my/ca.pem\n`);
  });

  it('mount serves the vault at a host directory; unmount stops it and the writes persist', async () => {
    const dir = join(host, 'mnt');
    mountDirs.push(dir);
    const child = start(home, ['--json', '--vault', 'x', 'mount', dir]);
    spawned.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!fuse) {
      expect(await exited).not.toBe(0);
      return;
    }
    expect(JSON.parse(out), err).toMatchObject({ mounted: dir, vault: 'x' });
    // The mount is another process's: asynchronous host I/O on it is fine here.
    expect(await readFile(join(dir, 'proj', 'README'), 'utf8')).toBe('changed\n');
    await writeFile(join(dir, 'via-mount.txt'), 'mounted write\n');
    // The vault is locked while mounted: a second vws waits, then says so.
    const locked = await run(home, ['--vault', 'x', 'ls'], { env: { VWS_LOCK_WAIT_MS: '200' } });
    expect(locked.code).toBe(5);
    expect(await j(['unmount', dir])).toEqual({ unmounted: dir, vault: 'x', stale: false });
    expect(await exited).toBe(0);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${dir} `);
    expect((await j(['cat', '/via-mount.txt'])).content).toBe('mounted write\n');
    expect((await fails(['unmount', dir], 3)).message).toMatch(/nothing is mounted/);
    expect(lstatSync(dir).isDirectory()).toBe(true);
  });

  it('a mount killed with -9 keeps what it saved; unmount clears the dead mount', async () => {
    const dir = join(host, 'mnt-killed');
    mountDirs.push(dir);
    const child = start(home, ['--json', '--vault', 'x', 'mount', dir], { env: { VWS_MOUNT_SAVE_MS: '200' } });
    spawned.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.on('close', r));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!fuse) {
      await exited;
      expect(child.exitCode).not.toBe(0);
      return;
    }
    const { pid } = JSON.parse(out) as { pid: number };
    await writeFile(join(dir, 'saved-by-timer.txt'), 'kept\n');
    await new Promise((r) => setTimeout(r, 1000)); // a few periodic saves
    process.kill(pid, 'SIGKILL'); // the CLI process serving the mount (we started it, through the launcher)
    await exited;
    const r = await j(['unmount', dir]);
    expect(r).toEqual({ unmounted: dir, vault: 'x', stale: true });
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${dir} `);
    expect((await j(['cat', '/saved-by-timer.txt'])).content).toBe('kept\n');
  });

  it('mount refuses a non-empty directory (exit 2)', async () => {
    expect((await fails(['mount', host], 2)).message).toMatch(/empty directory/);
  });
});
