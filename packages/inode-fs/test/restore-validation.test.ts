// Restore validates the whole state: crafted snapshots with a valid checksum (written through the
// codec from a state whose internals were bent into something impossible) are refused with a
// SnapshotError naming what is wrong; a fuzzer flips bits and truncates (with and without a
// recomputed checksum) and every outcome is a refusal or a state that is itself valid.

import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InodeFs, MAX_INO, SnapshotError } from '../src/index.js';
import { S_IFMT } from '../src/inode.js';
import type { Inode } from '../src/inode.js';

let t = 0n;
const clock = () => (t += 1n);

/** A small tree with every kind of thing a snapshot holds. */
function base(): InodeFs {
  const fs = new InodeFs({ clock });
  fs.mkdir('/d1/d2', { recursive: true });
  fs.writeFile('/d1/file', 'content');
  fs.writeFile('/big', new Uint8Array(100_000).fill(7));
  fs.symlink('d1/file', '/link');
  fs.link('/d1/file', '/hard');
  fs.setxattr(fs.inoOf('/big'), 'user.k', new Uint8Array([1, 2, 3]));
  return fs;
}

const ino = (fs: InodeFs, path: string) => fs.inoOf(path, false);
const node = (fs: InodeFs, n: number): Inode => (fs as unknown as { inodes: { get(i: number): Inode } }).inodes.get(n)!;
/** Sets a raw entry in a directory, bypassing every check. */
function setEntry(fs: InodeFs, dir: number, name: string, child: number): void {
  const d = node(fs, dir);
  d.entries = d.entries!.set(fs.epoch, name, child);
}
function delEntry(fs: InodeFs, dir: number, name: string): void {
  const d = node(fs, dir);
  d.entries = d.entries!.delete(fs.epoch, name);
}
function setInode(fs: InodeFs, at: number, inode: Inode): void {
  fs.inodes = fs.inodes.set(fs.epoch, at, inode);
}

/** name -> a bend that makes the state impossible, and a fragment of the refusal. */
const crafted: Array<[string, (fs: InodeFs) => void, RegExp]> = [
  ["entry name with '/'", (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, 'x/y', b); }, /'\/'/],
  ["entry name '..'", (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, '..', b); }, /'\.\.'/],
  ["entry name '.'", (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, '.', b); }, /'\.'/],
  ['empty entry name', (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, '', b); }, /empty name/],
  ['entry name with NUL', (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, 'a\0b', b); }, /NUL/],
  ['entry name of 256 bytes', (fs) => { const b = ino(fs, '/big'); delEntry(fs, 1, 'big'); setEntry(fs, 1, 'n'.repeat(256), b); }, /256 bytes/],
  ['directory cycle', (fs) => {
    const d1 = ino(fs, '/d1');
    const d2 = ino(fs, '/d1/d2');
    delEntry(fs, 1, 'd1');
    node(fs, 1).nlink--;
    setEntry(fs, d2, 'back', d1);
    node(fs, d2).nlink++;
    // The files under d1 are cut off with it; keep the hard link's count honest so the cycle is what fails.
  }, /cycle|not reachable/],
  ['hard-linked directory', (fs) => { setEntry(fs, 1, 'again', ino(fs, '/d1')); node(fs, 1).nlink++; }, /hard-linked directory/],
  ['directory with wrong nlink', (fs) => { node(fs, ino(fs, '/d1')).nlink = 7; }, /nlink 7/],
  ['nlink 0 on a linked file', (fs) => { node(fs, ino(fs, '/big')).nlink = 0; }, /missing inode|nlink 0/],
  ['nlink 1 on a file with two links', (fs) => { node(fs, ino(fs, '/hard')).nlink = 1; }, /nlink 1, but 2/],
  ['nlink 3 on a file with two links', (fs) => { node(fs, ino(fs, '/hard')).nlink = 3; }, /nlink 3, but 2/],
  ['nextIno 2^53', (fs) => { fs.nextIno = 2 ** 53; }, /next inode number/],
  ['nextIno not above every inode', (fs) => { fs.nextIno = ino(fs, '/hard') ; }, /next inode|not below/],
  ['duplicate inode numbers', (fs) => {
    // Two records that both say they are inode 3: the table holds one under another number.
    const big = node(fs, ino(fs, '/big'));
    const twin = big.clone(fs.epoch);
    (twin as { ino: number }).ino = ino(fs, '/link');
    setInode(fs, ino(fs, '/big'), twin);
  }, /out of order|duplicate|twice/],
  ['dangling entry', (fs) => { setEntry(fs, 1, 'ghost', 999); fs.nextIno = 1000; }, /missing inode 999/],
  ['detached file (no entry names it)', (fs) => { delEntry(fs, 1, 'big'); }, /not named/],
  ['entry naming the root', (fs) => { setEntry(fs, ino(fs, '/d1'), 'up', 1); }, /root/],
  ['symlink with an empty target', (fs) => { node(fs, ino(fs, '/link')).target = ''; }, /empty target/],
  ['symlink target with NUL', (fs) => { node(fs, ino(fs, '/link')).target = 'a\0b'; }, /NUL/],
  ['unknown file type', (fs) => { const n = node(fs, ino(fs, '/link')); n.mode = (n.mode & ~S_IFMT) | 0o030000; }, /unknown file type/],
  ['root is not a directory', (fs) => { const f = node(fs, ino(fs, '/big')).clone(fs.epoch); (f as { ino: number }).ino = 1; setInode(fs, 1, f); }, /root|impossible|damaged/],
];

/** A snapshot of `fs` after `bend`, sealed with a valid checksum by the codec itself. */
function craft(bend: (fs: InodeFs) => void): { bytes: Uint8Array; fs: InodeFs } {
  const fs = base().fork();
  // Make every inode and directory this side's own, so the bend does not reach the shared original.
  fs.inodes.forEach((n) => {
    if (n.ino !== undefined) {
      const copy = n.clone(fs.epoch);
      setInode(fs, n.ino, copy);
    }
  });
  bend(fs);
  return { bytes: fs.snapshot(), fs };
}

describe('restore refuses impossible states with a valid checksum', () => {
  it('the unbent state restores (the crafting itself is sound)', () => {
    const { bytes } = craft(() => {});
    const back = InodeFs.restore(bytes);
    expect(back.readFile('/d1/file', 'utf8')).toBe('content');
    expect(back.usage()).toEqual(base().usage());
  });

  for (const [name, bend, why] of crafted) {
    it(name, () => {
      const { bytes } = craft(bend);
      let err: unknown;
      try {
        InodeFs.restore(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, `${name} was accepted`).toBeInstanceOf(SnapshotError);
      expect((err as Error).message).toMatch(why);
    });
  }

  it('a crafted manifest and a crafted delta are refused too', () => {
    const parent = base();
    const { fs } = craft((f) => { node(f, ino(f, '/d1')).nlink = 9; });
    const m = fs.exportManifest();
    expect(() => InodeFs.importManifest(m.manifest, { chunk: (h) => m.chunks.get(h)! })).toThrow(/nlink 9/);
    const child = parent.fork();
    child.writeFile('/new', 'x');
    const node9 = node(child, child.inoOf('/new'));
    node9.nlink = 4;
    const delta = child.snapshot({ since: parent });
    expect(() => InodeFs.restore(delta, { parent })).toThrow(SnapshotError);
  });

  it('usage counters are recomputed from the tree, never trusted (0 bytes claimed on 100 kB, inodes off)', () => {
    const truth = base().usage();
    for (const bend of [(fs: InodeFs) => { fs.usedBytes = 0; }, (fs: InodeFs) => { fs.usedInodes += 7; }, (fs: InodeFs) => { fs.usedBytes = 2 ** 40; }]) {
      const back = InodeFs.restore(craft(bend).bytes);
      expect(back.usage()).toEqual(truth);
      expect(truth.bytes).toBeGreaterThan(100_000);
    }
  });

  it('a snapshot of a state with open unlinked files carries the live counters (orphans are no part of it)', () => {
    const fs = base();
    const ino = fs.inoOf('/big');
    fs.hold(ino);
    fs.unlink('/big');
    expect(fs.usage().inodes).toBe(base().usage().inodes);
    const back = InodeFs.restore(fs.snapshot());
    expect(back.usage().inodes).toBe(fs.usage().inodes - 1);
    expect(back.usage().bytes).toBeLessThan(fs.usage().bytes - 99_999);
    // And the header says so too: the same state gives the same bytes with or without the hold.
    fs.unhold(ino);
    expect(InodeFs.restore(fs.snapshot()).fingerprint()).toBe(back.fingerprint());
  });

  it('version 1 snapshots still restore, counters recomputed (xattrs were not counted then)', () => {
    const fs = base();
    const bytes = Buffer.from(fs.snapshot());
    bytes.writeUInt16LE(1, 8);
    // Version 1 counted no xattr bytes: the counter in the header is trusted no longer.
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)) >>> 0, bytes.length - 4);
    const back = InodeFs.restore(bytes);
    expect(back.usage()).toEqual(fs.usage());
  });

  it('inode allocation stops below MAX_INO instead of reusing numbers', () => {
    const fs = new InodeFs();
    fs.nextIno = MAX_INO;
    expect(() => fs.writeFile('/a', 'A')).toThrow(/ENOSPC/);
    expect(fs.exists('/a')).toBe(false);
  });
});

describe('restore fuzzer', () => {
  // A deterministic PRNG (mulberry32) so a failure names its seed.
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = seed;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  const reseal = (b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (b.length >= 4) v.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)) >>> 0, true);
    return b;
  };
  /** Restores, and says how it went: only a refusal or a valid, usable state are allowed. */
  const attempt = (bytes: Uint8Array, parent?: InodeFs): 'refused' | 'accepted' => {
    let fs: InodeFs;
    try {
      fs = InodeFs.restore(bytes, { copy: true, parent });
    } catch (e) {
      if (e instanceof SnapshotError) return 'refused';
      throw new Error(`restore crashed instead of refusing: ${(e as Error).stack}`);
    }
    // An accepted state must be one the engine can work with: snapshot it again and walk it.
    const again = InodeFs.restore(fs.snapshot());
    expect(again.fingerprint()).toBe(fs.fingerprint());
    fs.writeFile('/fuzz-probe', 'p');
    return 'accepted';
  };

  const parent = base();
  const child = parent.fork();
  child.rename('/d1/file', '/d1/d2/moved');
  child.mkdir('/n');
  child.writeFile('/n/x', 'new');
  child.unlink('/big');
  child.symlink('../link', '/n/l');
  const cases: Array<[string, Uint8Array, InodeFs | undefined]> = [
    ['a full snapshot', base().snapshot(), undefined],
    ['a delta', child.snapshot({ since: parent }), parent],
  ];
  for (const [what, good, against] of cases) {
    it(`${what}: bit flips and truncations are refused by the checksum or validation, never a crash or a hang`, () => {
      const next = rng(16);
      const tally = { refused: 0, accepted: 0 };
      const started = Date.now();
      for (let i = 0; i < 3000; i++) {
        const b = Uint8Array.from(good);
        const mode = i % 3;
        let bytes: Uint8Array = b;
        if (mode !== 1) {
          const flips = 1 + Math.floor(next() * 8);
          for (let k = 0; k < flips; k++) b[Math.floor(next() * (b.length - 4))] ^= 1 << Math.floor(next() * 8);
        }
        if (mode === 1) bytes = b.subarray(0, Math.floor(next() * b.length));
        // Half the damaged blobs get a fresh checksum, so validation (not the CRC) has to catch them.
        if (i % 2 === 0) bytes = reseal(Uint8Array.from(bytes));
        tally[attempt(bytes, against)]++;
      }
      // Unsealed flips and every truncation must be refused; only resealed flips of harmless fields
      // (times, modes, contents) may give a valid state.
      expect(tally.refused).toBeGreaterThan(2000);
      expect(tally.refused + tally.accepted).toBe(3000);
      expect(Date.now() - started).toBeLessThan(60_000);
    });
  }
});
