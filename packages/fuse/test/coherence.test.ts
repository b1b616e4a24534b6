// The engine API and programs on the mount see each other's writes at once, with no sleeps. The
// kernel caches names, attributes and pages for a long time; API changes reach it as invalidations,
// and `settle()` is the point after which a command is sure to see them.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InodeFs } from '@vws/inode-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { ok } from './helpers.js';

let fs: InodeFs;
let m: Mount;
beforeAll(async () => {
  fs = new InodeFs();
  m = await mount(fs, undefined, { countOps: true });
});
afterAll(async () => {
  await m?.unmount();
});

describe('coherence', () => {
  it('an API write is seen by the very next command, sizes shrinking and growing', async () => {
    for (let i = 0; i < 40; i++) {
      const text = i % 2 ? `short ${i}` : `a much longer line number ${i} `.repeat(50);
      fs.writeFile('/c.txt', text);
      await m.settle();
      expect(await ok('cat "$M/c.txt"; stat -c %s "$M/c.txt"', { M: m.path })).toBe(`${text}${text.length}\n`);
    }
  });

  it('a command write is seen by the API as soon as the command returns', async () => {
    for (let i = 0; i < 40; i++) {
      await ok(`printf '%s' "value $I" > "$M/d.txt"`, { M: m.path, I: String(i) });
      expect(fs.readFile('/d.txt', 'utf8')).toBe(`value ${i}`);
    }
  });

  it('entries created and removed through the API appear and vanish for the next command', async () => {
    fs.mkdir('/dir');
    await m.settle();
    // A miss the kernel caches (negative entry), then the name appears through the API.
    expect(await ok('ls "$M/dir" | wc -l; test -e "$M/dir/new" || echo missing', { M: m.path })).toBe('0\nmissing\n');
    fs.writeFile('/dir/new', 'n');
    await m.settle();
    expect(await ok('ls "$M/dir"; cat "$M/dir/new"', { M: m.path })).toBe('new\nn');
    fs.unlink('/dir/new');
    await m.settle();
    expect(await ok('ls "$M/dir" | wc -l; test ! -e "$M/dir/new" && echo gone', { M: m.path })).toBe('0\ngone\n');
    fs.chmod('/dir', 0o711);
    await m.settle();
    expect(await ok('stat -c %a "$M/dir"', { M: m.path })).toBe('711\n');
    fs.rename('/dir', '/moved');
    await m.settle();
    expect(await ok('test -d "$M/dir" || echo no-dir; stat -c %a "$M/moved"', { M: m.path })).toBe('no-dir\n711\n');
  });

  it('reset to a checkpoint while mounted shows the checkpoint to the next command', async () => {
    fs.writeFile('/state.txt', 'checkpointed\n');
    const checkpoint = fs.fork();
    await ok('echo later > "$M/state.txt" && touch "$M/extra"', { M: m.path });
    fs.reset(checkpoint);
    await m.settle();
    expect(await ok('cat "$M/state.txt"; test -e "$M/extra" && echo present || echo absent', { M: m.path })).toBe('checkpointed\nabsent\n');
  });

  it('the serving process itself may use the mount through async fs calls', async () => {
    await writeFile(join(m.path, 'async.txt'), 'from fs.promises');
    expect(fs.readFile('/async.txt', 'utf8')).toBe('from fs.promises');
    fs.writeFile('/async.txt', 'back from the API');
    await m.settle();
    expect(await readFile(join(m.path, 'async.txt'), 'utf8')).toBe('back from the API');
  });

  it('the kernel really caches: repeated reads of an unchanged tree do not reach the engine', async () => {
    fs.mkdir('/cached');
    for (let i = 0; i < 20; i++) fs.writeFile(`/cached/f${i}`, `file ${i}`);
    await m.settle();
    const full = 'cd "$M/cached" && cat f* > /dev/null && stat -c %s f* > /dev/null && ls > /dev/null && test ! -e nope';
    const metadata = 'cd "$M/cached" && stat -c %s f* > /dev/null && ls -l > /dev/null && test ! -e nope';
    const grew = async (script: string) => {
      const before = new Map(m.ops!);
      await ok(script, { M: m.path });
      const d = (op: string) => (m.ops!.get(op) ?? 0) - (before.get(op) ?? 0);
      return { lookup: d('lookup'), getattr: d('getattr'), read: d('read'), readdir: d('readdirplus') + d('readdir') };
    };
    await grew(full);
    // The second pass is served from the kernel's entry, page and listing caches (a read makes the
    // kernel refresh atime, so attributes after reads are asked again)...
    expect(await grew(full)).toMatchObject({ lookup: 0, read: 0, readdir: 0 });
    // ...and metadata alone comes entirely from the attribute cache.
    await grew(metadata);
    expect(await grew(metadata)).toEqual({ lookup: 0, getattr: 0, read: 0, readdir: 0 });
    // ...and one API write is still seen, through the cache, by the next command.
    fs.writeFile('/cached/f7', 'rewritten by the API');
    await m.settle();
    expect(await ok('cat "$M/cached/f7"; stat -c %s "$M/cached/f7"', { M: m.path })).toBe('rewritten by the API20\n');
  });

  it('an API append between two O_APPEND writes of a command is kept (the kernel learns the real end)', async () => {
    fs.writeFile('/app.log', 'start\n');
    await m.settle();
    // The command appends, then waits for a go-ahead on a FIFO while the API appends, then appends
    // again through the same descriptor: its kernel-side idea of the end is stale by then.
    const fifo = `/tmp/vws-append-${process.pid}`;
    await ok(`rm -f "${fifo}" && mkfifo "${fifo}"`);
    const cmd = ok(`exec 3>>"$M/app.log"; echo cmd-1 >&3; read go < "${fifo}"; echo cmd-2 >&3; exec 3>&-`, { M: m.path });
    await until(() => fs.readFile('/app.log', 'utf8').includes('cmd-1'));
    fs.appendFile('/app.log', 'api\n');
    await m.settle();
    await ok(`echo go > "${fifo}"`);
    await cmd;
    await ok(`rm -f "${fifo}"`);
    expect(fs.readFile('/app.log', 'utf8')).toBe('start\ncmd-1\napi\ncmd-2\n');
    expect(await ok('cat "$M/app.log"', { M: m.path })).toBe('start\ncmd-1\napi\ncmd-2\n');
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
