// The serving thread: a program may use its own workspace's mount like any directory, synchronously
// included, because the engine and its FUSE server live on a thread of their own; the failure this
// prevents is shown by the same program served inline. Also: the host's engine handle, and what
// happens when the serving thread dies.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsError, InodeFs, Stats } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { detach, fuseMounts, liveMounts, mount, type Mount } from '../src/index.js';
import { RemoteInodeFs, isRemote } from '../src/remote-fs.js';
import { ServingThread, ServingThreadError, runningServingThread } from '../src/serve-thread.js';

const here = dirname(fileURLToPath(import.meta.url));
const mounts: Mount[] = [];
afterEach(async () => {
  for (const m of mounts.splice(0)) await m.unmount();
});
const mounted = (path: string) => fuseMounts(true).some((m) => m.path === path);

/** Runs the own-mount fixture; resolves with its steps, or with what it printed when killed after `ms`. */
function ownMount(mode: 'thread' | 'inline' | 'exit', ms: number): Promise<{ steps: Array<{ step: string; ms: number; value: unknown }>; done: boolean; killed: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(here, 'fixtures/own-mount.ts'), mode], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let killed = false;
    // A process stuck on its own mount sleeps uninterruptibly: only SIGKILL ends it.
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', () => {
      clearTimeout(timer);
      const steps = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ steps, done: out.includes('done\n'), killed, out });
    });
  });
}

describe('a program on its own mount', () => {
  it('synchronous fs calls, execSync/execFileSync and spawns with cwd on it, a binary on it and fs.watch all work, each within a second', async () => {
    const r = await ownMount('thread', 30_000);
    expect(r.done, r.out).toBe(true);
    const value = Object.fromEntries(r.steps.map((s) => [s.step, s.value]));
    expect(value).toEqual({
      readFileSync: 'alpha',
      writeFileSync: 'written',
      readdirSync: ['a.txt', 'bin', 'w.txt'],
      statSync: 5,
      execSync: 'alphawritten',
      execFileSync: ['a.txt', 'bin', 'w.txt'],
      'spawn-cwd': 'alpha',
      'spawn-binary': 'from the mount\n',
      watch: 'watched.txt',
      'readFileSync-after-api-write': 'changed through the API',
    });
    for (const s of r.steps) expect(s.ms, s.step).toBeLessThan(1000);
  });

  it('served inline on the same thread (the old way), the first readFileSync never returns', async () => {
    const r = await ownMount('inline', 4000);
    expect(r.killed).toBe(true);
    expect(r.steps).toEqual([]);
    // Its mount goes with it (auto_unmount); the directory it made is left to us.
    const path = /mounted (\S+)/.exec(r.out)![1];
    for (let i = 0; i < 300 && mounted(path); i++) await new Promise((res) => setTimeout(res, 10));
    if (mounted(path)) await detach(path);
    rmSync(path, { recursive: true, force: true });
  });

  it('exiting without unmount leaves no mount and no directory behind', async () => {
    const r = await ownMount('exit', 20_000);
    expect(r.killed).toBe(false);
    const path = /mounted (\S+)/.exec(r.out)![1];
    expect(mounted(path)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });
});

describe('the serving thread ends', () => {
  it('once no mount and no engine is left on it (engines released as their handles are collected)', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=@vws/source', join(here, 'fixtures/thread-retires.ts')], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', () => resolve({ stdout: out }));
    });
    expect(JSON.parse(stdout)).toEqual({ during: true, after: false });
  });
});

describe('the host handle of an engine on the serving thread', () => {
  it('forwards every method of InodeFs', () => {
    const methods = Object.getOwnPropertyNames(InodeFs.prototype).filter((n) => n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(InodeFs.prototype, n)!.value === 'function');
    expect(methods.length).toBeGreaterThan(50);
    for (const name of methods) expect(Object.prototype.hasOwnProperty.call(RemoteInodeFs.prototype, name), name).toBe(true);
  });

  it('moves in place at mount: the same object, the same results as a local engine, typed errors, Stats with methods', async () => {
    const script = (e: InodeFs) => {
      e.mkdir('/d/e', { recursive: true });
      e.writeFile('/d/e/f.txt', 'hello');
      e.appendFile('/d/e/f.txt', ' world');
      e.symlink('g/f.txt', '/d/link');
      e.link('/d/e/f.txt', '/d/hard');
      e.chmod('/d/hard', 0o600);
      e.setxattr(e.inoOf('/d/hard'), 'user.k', new Uint8Array([1, 2, 3]));
      e.rename('/d/e', '/d/g');
      e.truncate('/d/g/f.txt', 8);
      const fh = e.open(e.inoOf('/d/g/f.txt'));
      const into = new Uint8Array(4);
      const n = e.readInto(fh, into, 2);
      e.release(fh);
      return { n, into: [...into], list: e.readdir('/d'), text: e.readFile('/d/link', 'utf8'), mode: e.stat('/d/hard').mode, x: [...e.getxattr(e.inoOf('/d/hard'), 'user.k')], real: e.realpath('/d/link') };
    };
    const local = new InodeFs({ clock: () => 1_000_000n });
    const expected = script(local);
    const fs = new InodeFs();
    const m = await mount(fs);
    mounts.push(m);
    expect(isRemote(fs)).toBe(true);
    expect(m.fs).toBe(fs);
    expect(fs).toBeInstanceOf(InodeFs);
    expect(script(fs)).toEqual(expected);
    expect(await readFile(join(m.path, 'd/g/f.txt'), 'utf8')).toBe('hello wo');
    const st = fs.stat('/d/g/f.txt');
    expect(st).toBeInstanceOf(Stats);
    expect(st.isFile()).toBe(true);
    expect(() => fs.readFile('/nope')).toThrow(FsError);
    try {
      fs.mkdir('/d');
    } catch (e) {
      expect((e as FsError).code).toBe('EEXIST');
      expect((e as FsError).syscall).toBe('mkdir');
    }
    const v = fs.version;
    fs.writeFile('/v.txt', 'v');
    expect(fs.version).toBeGreaterThan(v);
  });

  it("a call after a pause runs the serving thread on the caller's CPU, calls in a burst leave it where it is, and it may run anywhere between calls", async () => {
    // Why: after a pause the serving thread sleeps; woken on the CPU its caller leaves idle while
    // waiting, it starts at once, where waking an idle vCPU costs the hypervisor's wake-up
    // (native/vws_fuse.c keepNear). Within a burst it is awake, waiting on the port: left alone.
    const fs = new InodeFs();
    mounts.push(await mount(fs));
    const server = runningServingThread()!;
    const status = (file: string) => readFileSync(file, 'utf8');
    const allowed = (text: string) => /^Cpus_allowed_list:\s*(.*)$/m.exec(text)![1];
    const lastCpu = () => Number(status('/proc/thread-self/stat').split(') ')[1]!.split(' ')[36]);
    const pause = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    const mine = allowed(status('/proc/thread-self/status'));
    let same = 0;
    for (let i = 0; i < 20; i++) {
      pause();
      const cpu = lastCpu(); // this thread is running: its CPU now (it may move, hence several tries)
      const afterPause = server.call(0, '$placement') as string;
      const inBurst = server.call(0, '$placement') as string;
      expect(afterPause).toMatch(/^\d+$/);
      expect(inBurst).toBe(mine);
      if (Number(afterPause) === cpu) same++;
    }
    expect(same).toBeGreaterThan(0);
    const tid = readdirSync('/proc/self/task').find((t) => status(`/proc/self/task/${t}/comm`).trim() === 'vws-serving');
    expect(tid, 'the serving thread is named').toBeDefined();
    expect(allowed(status(`/proc/self/task/${tid}/status`))).toBe(mine);
  });

  it('forks, diffs, resets and delta snapshots work across; a local argument moves over', async () => {
    const fs = new InodeFs();
    fs.writeFile('/a.txt', 'one');
    const m = await mount(fs);
    mounts.push(m);
    const before = fs.fork();
    expect(isRemote(before)).toBe(true);
    fs.writeFile('/b.txt', 'two');
    expect(before.diff(fs).added.map((c) => c.path)).toEqual(['/b.txt']);
    const delta = fs.snapshot({ since: before });
    expect(InodeFs.restore(delta, { parent: InodeFs.restore(before.snapshot()) } as never).readFile('/b.txt', 'utf8')).toBe('two');
    // A checkpoint restored on this thread, then adopted by the mounted engine.
    const saved = InodeFs.restore(before.snapshot());
    expect(isRemote(saved)).toBe(false);
    fs.reset(saved);
    await m.settle();
    expect(fs.exists('/b.txt')).toBe(false);
    expect(existsSync(join(m.path, 'b.txt'))).toBe(false);
    expect(await readFile(join(m.path, 'a.txt'), 'utf8')).toBe('one');
  });

  it('reads the host caches for a mounted engine stay exact: changes through the mount, the API and a reset all show at once', async () => {
    const fs = new InodeFs();
    fs.writeFile('/a.txt', 'one');
    const m = await mount(fs);
    mounts.push(m);
    const { writeFile, rename, rm } = await import('node:fs/promises');
    // Warm the cache, then change things behind it in every way there is.
    expect(fs.readFile('/a.txt', 'utf8')).toBe('one');
    expect(fs.exists('/b.txt')).toBe(false);
    expect(() => fs.stat('/b.txt')).toThrow(FsError);
    await writeFile(join(m.path, 'a.txt'), 'two, through the mount');
    await writeFile(join(m.path, 'b.txt'), 'b');
    expect(fs.readFile('/a.txt', 'utf8')).toBe('two, through the mount');
    expect(fs.exists('/b.txt')).toBe(true);
    expect(fs.stat('/b.txt').size).toBe(1);
    // usage() comes from shared memory, current to the last change (22 + 1 bytes; root and 2 files).
    expect(fs.usage()).toEqual({ bytes: 23, inodes: 3 });
    const saved = fs.fork();
    fs.writeFile('/a.txt', 'three');
    expect(fs.readFile('/a.txt', 'utf8')).toBe('three');
    expect(fs.usage()).toEqual({ bytes: 6, inodes: 3 });
    expect(fs.stat('/a.txt').size).toBe(5); // the write brought its Stats back for the cache
    await writeFile(join(m.path, 'a.txt'), 'four!!');
    expect(fs.stat('/a.txt').size).toBe(6); // and a change through the mount replaced them
    await rename(join(m.path, 'b.txt'), join(m.path, 'c.txt'));
    expect(fs.readdir('/')).toEqual(['a.txt', 'c.txt']);
    await rm(join(m.path, 'c.txt'));
    expect(fs.readdir('/')).toEqual(['a.txt']);
    fs.reset(saved);
    expect(fs.readFile('/a.txt', 'utf8')).toBe('two, through the mount');
    expect(fs.stat('/a.txt').size).toBe(22);
    expect(fs.readdir('/')).toEqual(['a.txt', 'b.txt']);
    // What a caller gets is its own: changing it changes nothing cached.
    const bytes = fs.readFile('/a.txt') as Uint8Array;
    bytes[0] = 0;
    expect(fs.readFile('/a.txt', 'utf8')).toBe('two, through the mount');
  });

  it('a write through the API keeps other cached answers only where they cannot have changed: hard links, symlinks and other spellings are seen', async () => {
    const fs = new InodeFs();
    fs.mkdir('/real');
    fs.writeFile('/real/x', 'x');
    fs.symlink('real', '/link');
    fs.writeFile('/h1', 'one');
    fs.link('/h1', '/h2');
    fs.writeFile('/other', 'other');
    const m = await mount(fs);
    mounts.push(m);
    // Warm every answer, then write under another name for the same file each time.
    expect(fs.readFile('/h2', 'utf8')).toBe('one');
    expect(fs.stat('/real/x').size).toBe(1);
    expect(fs.readFile('/real//x', 'utf8')).toBe('x');
    expect(fs.readFile('/other', 'utf8')).toBe('other');
    fs.writeFile('/h1', 'changed');
    expect(fs.readFile('/h2', 'utf8')).toBe('changed');
    fs.writeFile('/link/x', 'through the link');
    expect(fs.stat('/real/x').size).toBe(16);
    expect(fs.readFile('/real//x', 'utf8')).toBe('through the link');
    expect(fs.readFile('/link/x', 'utf8')).toBe('through the link'); // cached, through the symlink
    expect(fs.readdir('/link')).toEqual(['x']);
    fs.writeFile('/real/x', 'plain');
    expect(fs.readFile('/real//x', 'utf8')).toBe('plain');
    expect(fs.readFile('/link/x', 'utf8')).toBe('plain');
    fs.writeFile('/real/new', 'n');
    expect(fs.readdir('/real')).toEqual(['new', 'x']);
    expect(fs.readdir('/link')).toEqual(['new', 'x']);
    expect(fs.readFile('/other', 'utf8')).toBe('other');
  });

  it('watch() listeners hear changes made through the mount, asynchronously', async () => {
    const fs = new InodeFs();
    const m = await mount(fs);
    mounts.push(m);
    const events: string[] = [];
    const stop = fs.watch((ev) => events.push(ev.type));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(m.path, 'x.txt'), 'x');
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(events.length).toBeGreaterThan(0);
  });
});

describe('when the serving thread dies', () => {
  it('a thread that fails while starting: the first call is a typed error after the start limit, not a hang', () => {
    process.env.VWS_SERVE_START_TIMEOUT_MS = '1500';
    try {
      const server = new ServingThread({ file: join(here, 'fixtures/broken-worker.ts'), execArgv: ['--import', 'tsx'] });
      const started = Date.now();
      expect(() => server.call(0, '$mounted')).toThrow(/did not start within 1.5 s/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(server.alive).toBe(false);
    } finally {
      delete process.env.VWS_SERVE_START_TIMEOUT_MS;
    }
  });

  it('its mounts go away, the next engine call is a typed error (no hang), and a new mount starts a new thread', async () => {
    const fs = new InodeFs();
    fs.writeFile('/a.txt', 'a');
    const m = await mount(fs);
    const server = runningServingThread()!;
    expect(mounted(m.path)).toBe(true);
    await server.worker.terminate();
    for (let i = 0; i < 200 && mounted(m.path); i++) await new Promise((r) => setTimeout(r, 10));
    expect(mounted(m.path)).toBe(false);
    expect(() => fs.readFile('/a.txt')).toThrow(ServingThreadError);
    expect(m.mounted).toBe(false);
    await m.unmount();
    expect(existsSync(m.path)).toBe(false);
    expect(liveMounts()).not.toContain(m.path);
    const again = await mount(new InodeFs());
    mounts.push(again);
    expect(runningServingThread()).not.toBe(server);
    expect(mounted(again.path)).toBe(true);
  });
});
