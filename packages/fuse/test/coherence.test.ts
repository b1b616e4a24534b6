// The engine API and programs on the mount see each other's writes at once, with no sleeps.

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
  m = await mount(fs);
});
afterAll(async () => {
  await m?.unmount();
});

describe('coherence', () => {
  it('an API write is seen by the very next command, sizes shrinking and growing', async () => {
    for (let i = 0; i < 40; i++) {
      const text = i % 2 ? `short ${i}` : `a much longer line number ${i} `.repeat(50);
      fs.writeFile('/c.txt', text);
      expect(await ok('cat "$M/c.txt"', { M: m.path })).toBe(text);
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
    expect(await ok('ls "$M/dir" | wc -l', { M: m.path })).toBe('0\n');
    fs.writeFile('/dir/new', 'n');
    expect(await ok('ls "$M/dir"', { M: m.path })).toBe('new\n');
    fs.unlink('/dir/new');
    expect(await ok('ls "$M/dir" | wc -l; test ! -e "$M/dir/new" && echo gone', { M: m.path })).toBe('0\ngone\n');
    fs.chmod('/dir', 0o711);
    expect(await ok('stat -c %a "$M/dir"', { M: m.path })).toBe('711\n');
  });

  it('reset to a checkpoint while mounted shows the checkpoint to the next command', async () => {
    fs.writeFile('/state.txt', 'checkpointed\n');
    const checkpoint = fs.fork();
    await ok('echo later > "$M/state.txt" && touch "$M/extra"', { M: m.path });
    fs.reset(checkpoint);
    expect(await ok('cat "$M/state.txt"; test -e "$M/extra" && echo present || echo absent', { M: m.path })).toBe('checkpointed\nabsent\n');
  });

  it('the serving process itself may use the mount through async fs calls', async () => {
    await writeFile(join(m.path, 'async.txt'), 'from fs.promises');
    expect(fs.readFile('/async.txt', 'utf8')).toBe('from fs.promises');
    fs.writeFile('/async.txt', 'back from the API');
    expect(await readFile(join(m.path, 'async.txt'), 'utf8')).toBe('back from the API');
  });
});
