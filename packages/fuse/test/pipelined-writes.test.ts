// Pipelined writes: an overwrite the host can prove will succeed (remote-fs.ts pipelinable) is posted
// to the serving thread without waiting. What must hold: every later API call and every kernel
// request begun after it sees it; a write that could fail is waited for and fails as before; a
// process writing the same files through the mount at the same time loses nothing and breaks nothing.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InodeFs } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { runningServingThread, ServingThread } from '../src/serve-thread.js';
import { sh } from './helpers.js';

let m: Mount | undefined;
afterEach(async () => {
  await m?.unmount();
  m = undefined;
  delete process.env.VWS_PIPELINE_WRITES;
});

const text = (b: Uint8Array) => Buffer.from(b).toString();
const paths = (d: { added: Array<{ path: string }>; modified: Array<{ path: string }>; deleted: Array<{ path: string }> }) => ({
  added: d.added.map((c) => c.path),
  modified: d.modified.map((c) => c.path),
  deleted: d.deleted.map((c) => c.path),
});

/** Counts the synchronous calls of method `m` that cross to the serving thread while `fn` runs. */
function crossings<T>(m: string, fn: () => T): { result: T; calls: number } {
  const call = ServingThread.prototype.call;
  let calls = 0;
  ServingThread.prototype.call = function (this: ServingThread, t: number, method: string, ...rest: never[]) {
    if (method === m) calls++;
    return call.call(this, t, method, ...rest);
  } as typeof call;
  try {
    return { result: fn(), calls };
  } finally {
    ServingThread.prototype.call = call;
  }
}

async function mounted(files: Record<string, string>, quota?: { bytes: number }, spinUs?: number): Promise<InodeFs> {
  const fs = new InodeFs(quota ? { quota } : {});
  for (const [p, c] of Object.entries(files)) {
    fs.mkdir(p.slice(0, p.lastIndexOf('/')) || '/', { recursive: true });
    fs.writeFile(p, c);
  }
  m = await mount(fs, undefined, { spinUs });
  return fs;
}

describe('pipelined writes', () => {
  it('an overwrite of a file the host has stat-ed is not waited for, and the next calls see it', async () => {
    const fs = await mounted({ '/a.txt': 'first' });
    const server = runningServingThread()!;
    const before = server.posted;
    for (let i = 0; i < 50; i++) {
      fs.stat('/a.txt');
      const content = `write ${i} `.repeat(i + 1);
      fs.writeFile('/a.txt', content);
      expect(fs.stat('/a.txt').size).toBe(content.length);
      expect(text(fs.readFile('/a.txt'))).toBe(content);
    }
    expect(server.posted - before).toBe(50);
    await m!.settle();
    expect(readFileSync(join(m!.path, 'a.txt'), 'utf8')).toBe(`write 49 `.repeat(50));
  });

  it('a kernel request begun after the write sees it, with no settle in between', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `/f${i}`);
    // The serving thread keeps polling the kernel for 20 ms after each request, not looking at the
    // host's port meanwhile: the next read reaches it before the write's message does, every time.
    const fs = await mounted(Object.fromEntries(names.map((n) => [n, 'old'])), undefined, 20_000);
    const server = runningServingThread()!;
    const before = server.posted;
    for (const n of names) fs.stat(n); // the host's cache knows them all: no call crosses below
    for (const n of names) {
      fs.writeFile(n, `new content of ${n}`);
      // Never looked up through the mount: the kernel has nothing cached, so it asks the serving thread.
      expect(readFileSync(join(m!.path, n), 'utf8')).toBe(`new content of ${n}`);
    }
    expect(server.posted - before).toBe(names.length);
  });

  it('a new file in a directory the host knows is not waited for either; the listing shows it', async () => {
    const fs = await mounted({ '/dir/old.txt': 'o' });
    const server = runningServingThread()!;
    const before = server.posted;
    expect(fs.readdir('/dir')).toEqual(['old.txt']); // cached
    for (let i = 0; i < 20; i++) {
      expect(() => fs.stat(`/dir/new${i}.txt`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      fs.writeFile(`/dir/new${i}.txt`, `new ${i}`);
      expect(text(fs.readFile(`/dir/new${i}.txt`))).toBe(`new ${i}`);
    }
    expect(server.posted - before).toBe(20);
    expect(fs.readdir('/dir')).toHaveLength(21);
    expect(readFileSync(join(m!.path, 'dir', 'new19.txt'), 'utf8')).toBe('new 19');
  });

  it('new files that could not be made are waited for and refused as before', async () => {
    const fs = new InodeFs({ quota: { inodes: 4 } });
    fs.mkdir('/d');
    m = await mount(fs);
    const server = runningServingThread()!;
    const before = server.posted;
    const long = `/d/${'x'.repeat(256)}`;
    expect(() => fs.stat(long)).toThrow();
    expect(() => fs.writeFile(long, 'a')).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    expect(() => fs.stat('/missing/a')).toThrow();
    expect(() => fs.writeFile('/missing/a', 'a')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    for (const name of ['one', 'two']) {
      expect(() => fs.stat(`/d/${name}`)).toThrow();
      fs.writeFile(`/d/${name}`, name); // inodes: the root, d, one, two (the quota)
    }
    expect(server.posted - before).toBe(2);
    expect(() => fs.stat('/d/three')).toThrow();
    expect(() => fs.writeFile('/d/three', '3')).toThrow(/inode quota/);
    expect(fs.readdir('/d')).toEqual(['one', 'two']);
    expect(server.posted - before).toBe(2);
  });

  it("misses beside a directory whose names the cache holds are answered without a call, as the engine would", async () => {
    const fs = await mounted({ '/dir/a': 'a' });
    const local = new InodeFs();
    local.mkdir('/dir');
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return `${(e as { code?: string }).code} ${(e as Error).message}`;
      }
      return 'no error';
    };
    // The first miss crosses and brings the directory's names along.
    expect(crossings('$read', () => message(() => fs.stat('/dir/x'))).calls).toBe(1);
    const r = crossings('$read', () => [message(() => fs.stat('/dir/y')), message(() => fs.lstat('/dir/w')), fs.exists('/dir/z')]);
    expect(r.calls).toBe(0);
    expect(r.result).toEqual([message(() => local.stat('/dir/y')), message(() => local.lstat('/dir/w')), false]);
    // A name that is there still crosses, for its Stats.
    expect(crossings('$read', () => fs.stat('/dir/a').size).result).toBe(1);
    // A file made through the API joins the names: the next miss is still answered here.
    fs.writeFile('/dir/y', 'made');
    expect(fs.stat('/dir/y').size).toBe(4);
    expect(crossings('$read', () => fs.exists('/dir/q')).calls).toBe(0);
    // A change through the kernel moves the counter: the names are asked for again.
    await sh('cd "$M"; echo q > dir/q', { M: m!.path });
    expect(crossings('$read', () => fs.exists('/dir/q'))).toEqual({ result: true, calls: 1 });
  });

  it('writes that could fail are waited for, fail as before and change nothing', async () => {
    const fs = await mounted({ '/q.txt': 'x'.repeat(100), '/dir/inner': 'i' }, { bytes: 4096 });
    const server = runningServingThread()!;
    const before = server.posted;
    fs.stat('/q.txt');
    expect(() => fs.writeFile('/q.txt', 'y'.repeat(5000))).toThrow(/quota/);
    expect(text(fs.readFile('/q.txt'))).toBe('x'.repeat(100));
    fs.stat('/dir');
    expect(() => fs.writeFile('/dir', 'not a file')).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    // Two links: the cache cannot know every name of the file, so the write waits.
    fs.link('/q.txt', '/q2.txt');
    fs.stat('/q.txt');
    fs.writeFile('/q.txt', 'linked');
    expect(text(fs.readFile('/q2.txt'))).toBe('linked');
    // Through a symlink, exclusive, appending or with a mode: waited for.
    fs.symlink('/q.txt', '/s');
    fs.stat('/s');
    fs.writeFile('/s', 'through the link');
    fs.stat('/dir/inner');
    expect(() => fs.writeFile('/dir/inner', 'again', { flag: 'wx' })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    fs.stat('/dir/inner');
    fs.writeFile('/dir/inner', '+', { flag: 'a' });
    expect(text(fs.readFile('/q.txt'))).toBe('through the link');
    expect(text(fs.readFile('/dir/inner'))).toBe('i+');
    expect(server.posted).toBe(before);
  });

  it('VWS_PIPELINE_WRITES=0 waits for every write', async () => {
    const fs = await mounted({ '/a': '1' });
    process.env.VWS_PIPELINE_WRITES = '0';
    const server = runningServingThread()!;
    const before = server.posted;
    fs.stat('/a');
    fs.writeFile('/a', '2');
    expect(server.posted).toBe(before);
    expect(text(fs.readFile('/a'))).toBe('2');
  });

  it('with a process writing the same files through the mount meanwhile, no write fails or is lost', async () => {
    const fs = await mounted({ '/shared.txt': 'start', '/mine.txt': 'start' });
    const server = runningServingThread()!;
    const before = { posted: server.posted, waited: server.postsWaited };
    // The process rewrites shared.txt and creates its own files as fast as it can.
    const writer = sh('cd "$M"; for i in $(seq 1 400); do echo "process $i" > shared.txt; echo "$i" > "p$((i % 20)).txt"; done', { M: m!.path });
    let done = false;
    void writer.finally(() => (done = true));
    let i = 0;
    while (!done || i < 200) {
      fs.stat('/mine.txt');
      fs.writeFile('/mine.txt', `api ${i}`);
      try {
        fs.stat('/shared.txt');
        fs.writeFile('/shared.txt', `api ${i}`);
      } catch (e) {
        // The process's `>` truncates and rewrites: the name is always there.
        throw new Error(`an API write failed while a process wrote the same file: ${(e as Error).message}`);
      }
      i++;
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await writer;
    expect(r.code, r.stderr).toBe(0);
    expect(text(fs.readFile('/mine.txt'))).toBe(`api ${i - 1}`);
    await m!.settle();
    // The mount and the API agree on every file.
    for (const n of ['shared.txt', 'mine.txt', ...Array.from({ length: 20 }, (_, k) => `p${k}.txt`)]) {
      expect(readFileSync(join(m!.path, n), 'utf8'), n).toBe(text(fs.readFile(`/${n}`)));
    }
    expect(readFileSync(join(m!.path, 'shared.txt'), 'utf8')).toMatch(/^(api \d+|process \d+\n)$/);
    // Most went without waiting; while the process's requests were being served, some waited.
    expect(server.posted - before.posted).toBeGreaterThanOrEqual(2 * i * 0.5);
    expect(server.postsWaited - before.waited, 'no write met a request under way: the race was not exercised').toBeGreaterThan(0);
  });
});

describe("a fork's diff against the engine it was taken from (a command's change report)", () => {
  it('is empty with no call when nothing changed, and exact whenever anything did', async () => {
    const fs = await mounted({ '/a.txt': 'one', '/b.txt': 'two' });
    const empty = { added: [], modified: [], deleted: [] };

    let before = fs.fork();
    let r = crossings('diff', () => before.diff(fs));
    expect(paths(r.result)).toEqual(empty);
    expect(r.calls).toBe(0);
    expect(paths(fs.diff(before))).toEqual(empty); // either way round

    // Changed through the kernel: a process on the mount.
    before = fs.fork();
    await sh('cd "$M"; echo three > c.txt; echo changed > a.txt', { M: m!.path });
    r = crossings('diff', () => before.diff(fs));
    expect(paths(r.result)).toEqual({ added: ['/c.txt'], modified: ['/a.txt'], deleted: [] });
    expect(r.calls).toBe(1);

    // Changed through the API, the write pipelined.
    before = fs.fork();
    fs.stat('/b.txt');
    fs.writeFile('/b.txt', 'api');
    expect(paths(before.diff(fs))).toEqual({ added: [], modified: ['/b.txt'], deleted: [] });

    // The fork itself changed.
    before = fs.fork();
    before.rm('/c.txt');
    expect(paths(before.diff(fs))).toEqual({ added: ['/c.txt'], modified: [], deleted: [] });

    // Read through the kernel: access times moved (so the counter did, and the diff crosses); the
    // report has nothing in it.
    before = fs.fork();
    await sh('cd "$M"; cat a.txt b.txt c.txt > /dev/null; ls -la > /dev/null', { M: m!.path });
    expect(paths(before.diff(fs))).toEqual(empty);
  });
});
