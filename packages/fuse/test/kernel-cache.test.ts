// The bookkeeping behind kernel caching, without a kernel: which inodes the kernel holds (and so the
// engine keeps alive), and which API changes become invalidations.

import { InodeFs, ROOT_INO } from '@vws/inode-fs';
import { describe, expect, it } from 'vitest';
import { KernelCache } from '../src/kernel-cache.js';

function setup() {
  const fs = new InodeFs();
  const sent: Array<{ inodes: number[]; entries: Array<[number, string]> }> = [];
  let seq = 0;
  const cache = new KernelCache(fs, {
    invalidate(inodes, entries) {
      sent.push({ inodes: [...inodes].sort((a, b) => a - b), entries });
      return ++seq;
    },
  });
  fs.watch((ev) => cache.onChange(ev));
  return { fs, cache, sent };
}

describe('KernelCache', () => {
  it('holds an inode while the kernel references it: an unlinked file lives until the last forget', () => {
    const { fs, cache } = setup();
    fs.writeFile('/f', 'kept');
    const ino = fs.stat('/f').ino;
    cache.remember(ino, ROOT_INO, 'f');
    cache.remember(ino, ROOT_INO, 'f'); // two lookups
    fs.unlink('/f');
    cache.forget(ino, 1);
    expect(fs.getattr(ino).nlink).toBe(0);
    cache.forget(ino, 1);
    expect(() => fs.getattr(ino)).toThrow(/ENOENT/);
    expect(cache.heldInodes).toBe(0);
  });

  it('invalidates only what the kernel holds, in one batch per synchronous run of API calls', async () => {
    const { fs, cache, sent } = setup();
    fs.mkdir('/seen');
    fs.mkdir('/unseen');
    const seen = fs.stat('/seen').ino;
    cache.remember(seen, ROOT_INO, 'seen');
    await Promise.resolve();
    sent.length = 0;
    fs.writeFile('/seen/a', '1');
    fs.writeFile('/seen/a', '2');
    fs.writeFile('/unseen/b', '3'); // a directory the kernel never looked into: nothing to say
    await Promise.resolve();
    expect(sent).toHaveLength(1);
    expect(sent[0].entries).toEqual([[seen, 'a']]);
    expect(sent[0].inodes).toEqual([seen]);
    expect(cache.lastSeq).toBe(2); // the mkdirs under the root (always held) were the first batch
  });

  it('a reset invalidates every held inode and every name and miss the kernel was told, and holds again', async () => {
    const { fs, cache, sent } = setup();
    fs.writeFile('/f', 'old');
    const checkpoint = fs.fork();
    const ino = fs.stat('/f').ino;
    cache.remember(ino, ROOT_INO, 'f');
    expect(cache.rememberMissing(ROOT_INO, 'ghost')).toBe(true);
    await Promise.resolve();
    sent.length = 0;
    fs.reset(checkpoint);
    await Promise.resolve();
    expect(sent).toHaveLength(1);
    expect(sent[0].inodes).toEqual([ROOT_INO, ino]);
    expect(sent[0].entries).toEqual(expect.arrayContaining([[ROOT_INO, 'f'], [ROOT_INO, 'ghost']]));
    // The new state holds the inode for the kernel again: unlinking it keeps it until the forget.
    fs.unlink('/f');
    expect(fs.getattr(ino).nlink).toBe(0);
    cache.forget(ino, 1);
    expect(() => fs.getattr(ino)).toThrow(/ENOENT/);
  });

  it('caps remembered misses, so memory stays bounded', () => {
    const { cache } = setup();
    let accepted = 0;
    for (let i = 0; i < 70_000; i++) if (cache.rememberMissing(ROOT_INO, `n${i}`)) accepted++;
    expect(accepted).toBe(65_536);
    // Forgetting the directory forgets its misses, which frees room again.
    cache.forget(ROOT_INO, 0);
    expect(cache.rememberMissing(ROOT_INO, 'again')).toBe(true);
  });
});
