// Mount lifecycle: unmount, double unmount, exit and signals, SIGKILL then remount, stale cleanup.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InodeFs } from '@vws/inode-fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupStaleMounts, detach, fuseMounts, fuseProblem, liveMounts, mount, MountError } from '../src/index.js';
import { ok } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];

const mounted = (path: string) => fuseMounts(true).some((m) => m.path === path);

/** Starts the fixture server and resolves when it reports its mount. */
function serve(dir: string, mode: 'exit' | 'wait', detached = false): Promise<{ child: ChildProcess; path: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(here, 'fixtures/serve.ts'), dir, mode], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'], detached });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (m) resolve({ child, path: m[1] });
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before ready: ${out}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
});
afterAll(async () => {
  for (const d of dirs) {
    if (mounted(d)) await detach(d);
    rmSync(d, { recursive: true, force: true });
  }
});

/** The processes whose parent is `pid` (from /proc), with their command names. */
function childrenOf(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Whether every thread of `pid` is stopped (state T in /proc). */
function threadsStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
    } catch {
      return true; // exited meanwhile
    }
  });
}

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vws-life-'));
  dirs.push(d);
  return d;
}

describe('lifecycle', () => {
  it('this host has FUSE (the suite must fail loudly where it does not)', () => {
    expect(fuseProblem()).toBeUndefined();
  });

  it('mount at a temp dir, unmount, and a second unmount is harmless', async () => {
    const fs = new InodeFs();
    fs.writeFile('/x', 'y');
    const m = await mount(fs);
    expect(mounted(m.path)).toBe(true);
    expect(liveMounts()).toContain(m.path);
    expect(await readFile(join(m.path, 'x'), 'utf8')).toBe('y');
    await m.unmount();
    await m.unmount();
    expect(m.mounted).toBe(false);
    expect(mounted(m.path)).toBe(false);
    // The temp dir it made is gone too.
    await expect(stat(m.path)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a second mount of the same path by this process', async () => {
    const dir = freshDir();
    const m = await mount(new InodeFs(), dir);
    try {
      await expect(mount(new InodeFs(), dir)).rejects.toBeInstanceOf(MountError);
    } finally {
      await m.unmount();
    }
    expect(mounted(dir)).toBe(false);
  });

  it('a process that exits normally leaves no mount', async () => {
    const dir = freshDir();
    const { child, path } = await serve(dir, 'exit');
    expect(path).toBe(dir);
    await exited(child);
    await until(() => !mounted(dir));
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} unmounts before the process dies`, async () => {
      const dir = freshDir();
      const { child } = await serve(dir, 'wait');
      expect(await readFile(join(dir, 'hello.txt'), 'utf8')).toMatch(/served by/);
      child.kill(signal);
      await exited(child);
      expect(child.signalCode).toBe(signal);
      await until(() => !mounted(dir));
    });
  }

  it('SIGKILL of the server, then a remount at the same path works', async () => {
    const dir = freshDir();
    const first = await serve(dir, 'wait');
    first.child.kill('SIGKILL');
    await exited(first.child);
    // Whatever the kernel left (auto_unmount clears it; otherwise a dead connection), mounting again works.
    const fs = new InodeFs();
    fs.writeFile('/again.txt', 'second life');
    const m = await mount(fs, dir);
    try {
      expect(await readFile(join(dir, 'again.txt'), 'utf8')).toBe('second life');
    } finally {
      await m.unmount();
    }
    expect(mounted(dir)).toBe(false);
  });

  it('cleanupStaleMounts clears a mount whose server is stopped and skips live ones', async () => {
    const live = await mount(new InodeFs());
    const dir = freshDir();
    const { child } = await serve(dir, 'wait');
    // A stopped server cannot answer: its mount hangs like a dead one until cleared.
    child.kill('SIGSTOP');
    // A thread running at the signal goes on until it next enters the kernel: wait for all to stop.
    await until(() => threadsStopped(child.pid!));
    try {
      const cleared = await cleanupStaleMounts({ skip: liveMounts(), timeoutMs: 500 });
      expect(cleared).toContain(dir);
      expect(cleared).not.toContain(live.path);
      expect(mounted(dir)).toBe(false);
      expect(mounted(live.path)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
      await live.unmount();
    }
  });

  it('kill -9 of a server and of its auto_unmount helper (a container stop, the OOM killer) leaves a stale mount; the next process to mount clears it and its directory, and spares live mounts', async () => {
    const live = await serve(freshDir(), 'wait');
    const { child, path } = await serve('-', 'wait');
    expect(basename(path)).toMatch(new RegExp(`^vws-mnt-${child.pid}-`));
    try {
      // fusermount3 runs in a session of its own (a process-group kill misses it) and unmounts when
      // the server's connection closes, but not always in time, nor when it is killed as well.
      const helpers = childrenOf(child.pid!).filter((c) => c.comm === 'fusermount3');
      expect(helpers.length).toBe(1);
      process.kill(helpers[0].pid, 'SIGKILL');
      child.kill('SIGKILL');
      await exited(child);
      // Nobody left to unmount it: listed, answering ENOTCONN.
      expect(mounted(path)).toBe(true);
      await expect(statfs(path)).rejects.toThrow(/ENOTCONN/);
      // A fresh process's first mount sweeps it.
      const next = await serve(freshDir(), 'wait');
      expect(mounted(path)).toBe(false);
      expect(existsSync(path)).toBe(false);
      expect(mounted(next.path)).toBe(true);
      expect(mounted(live.path)).toBe(true);
      expect(await readFile(join(live.path, 'hello.txt'), 'utf8')).toBe(`served by ${live.child.pid}\n`);
    } finally {
      if (mounted(path)) await detach(path);
      rmSync(path, { recursive: true, force: true });
    }
  });

  it('children of the serving process do not inherit the FUSE connection', async () => {
    const m = await mount(new InodeFs());
    try {
      // A child holding /dev/fuse would keep a dead server's mount hanging instead of failing.
      const out = await ok('ls -l /proc/self/fd/ | grep -c /dev/fuse || true');
      expect(out.trim()).toBe('0');
      expect(fuseMounts().find((e) => e.path === m.path)?.pid).toBe(process.pid);
    } finally {
      await m.unmount();
    }
  });

  it('an unmount from outside (fusermount3 -u) is noticed: mounted turns false, unmount() stays harmless', async () => {
    const m = await mount(new InodeFs());
    await ok('fusermount3 -u "$M"', { M: m.path });
    await until(() => !m.mounted);
    await m.unmount();
    expect(mounted(m.path)).toBe(false);
    expect(existsSync(m.path)).toBe(false); // the directory it made is gone too
  });
});
