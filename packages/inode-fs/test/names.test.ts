// Names are bytes: the byte <-> string mapping is exact both ways, distinct byte names stay distinct
// files through the engine and snapshot + restore, and only what stands for no byte string is refused.
// Also: extended attributes count in the byte quota.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FsError, InodeFs, bytesToName, isCanonicalName, nameToBytes } from '../src/index.js';

const hash = (fs: InodeFs) => createHash('sha256').update(fs.snapshot()).digest('hex');

describe('byte <-> name mapping', () => {
  it('round-trips every byte string exactly (random and edge cases)', () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const cases: number[][] = [[0xff], [0xfe], [0xc3, 0xa9], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0xaf], [0xf0, 0x9f, 0x98, 0x80], [0x80]];
    for (let i = 0; i < 5000; i++) cases.push(Array.from({ length: 1 + (next() % 12) }, next));
    for (const c of cases) {
      const bytes = Uint8Array.from(c);
      const name = bytesToName(bytes);
      expect(isCanonicalName(name)).toBe(true);
      expect([...nameToBytes(name)]).toEqual(c);
    }
  });

  it('valid UTF-8 decodes as text; invalid bytes become U+DC80..U+DCFF', () => {
    expect(bytesToName(Uint8Array.from([0x61, 0xc3, 0xa9]))).toBe('aé');
    expect(bytesToName(Uint8Array.from([0xff]))).toBe('\udcff');
    expect(bytesToName(Uint8Array.from([0xfe]))).toBe('\udcfe');
  });

  it('refuses what stands for no bytes, or for bytes that decode to another name', () => {
    expect(isCanonicalName('\ud800')).toBe(false); // lone high surrogate
    expect(isCanonicalName('\udc41')).toBe(false); // low surrogate outside the reserved range
    expect(isCanonicalName('\udcc3\udca9')).toBe(false); // would alias 'é'
    expect(isCanonicalName('😀')).toBe(true);
    expect(() => nameToBytes('\ud800')).toThrow(RangeError);
  });
});

describe('the engine keeps names as bytes', () => {
  it("\\xff and \\xfe are two files, also after snapshot + restore", () => {
    const fs = new InodeFs();
    fs.writeFile('/' + bytesToName(Uint8Array.of(0xff)), 'one');
    fs.writeFile('/' + bytesToName(Uint8Array.of(0xfe)), 'two');
    fs.writeFile('/\ufffd', 'replacement char is a third name');
    const back = InodeFs.restore(fs.snapshot());
    expect(back.readdir('/')).toHaveLength(3);
    expect(back.readFile('/\udcff', 'utf8')).toBe('one');
    expect(back.readFile('/\udcfe', 'utf8')).toBe('two');
    expect(back.readFile('/\ufffd', 'utf8')).toBe('replacement char is a third name');
    expect(back.fingerprint()).toBe(fs.fingerprint());
  });

  it('diffs keep byte names apart', () => {
    const a = new InodeFs();
    const b = a.fork();
    b.writeFile('/\udcff', '1');
    b.writeFile('/\udcfe', '2');
    const d = a.diff(b);
    expect(d.added.map((c) => c.path).sort()).toEqual(['/\udcfe', '/\udcff']);
    const back = InodeFs.restore(b.snapshot({ since: a }), { parent: a });
    expect(a.diff(back).added.map((c) => c.path).sort()).toEqual(['/\udcfe', '/\udcff']);
  });

  it('symlink targets with non-UTF-8 bytes survive snapshot + restore', () => {
    const fs = new InodeFs();
    fs.symlink('x\udc80y', '/l');
    expect(fs.lstat('/l').size).toBe(3);
    expect(InodeFs.restore(fs.snapshot()).readlink('/l')).toBe('x\udc80y');
  });

  for (const [label, name] of [
    ['a lone high surrogate', '\ud800'],
    ['a low surrogate outside the reserved range', '\udc00'],
    ['escaped bytes that spell valid UTF-8', '\udcc3\udca9'],
  ] as const) {
    it(`a name with ${label} is refused (EINVAL) and nothing changes`, () => {
      const fs = new InodeFs();
      fs.writeFile('/keep', 'k');
      const before = hash(fs);
      for (const op of [() => fs.writeFile(`/${name}`, 'x'), () => fs.mkdir(`/d/${name}`, { recursive: true }), () => fs.symlink('keep', `/${name}`), () => fs.rename('/keep', `/${name}`)]) {
        let err: unknown;
        try {
          op();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(FsError);
        expect((err as FsError).code).toBe('EINVAL');
        expect(hash(fs)).toBe(before);
      }
    });
  }

  it('the 255-byte limit counts bytes: 255 escaped bytes fit, 256 do not', () => {
    const fs = new InodeFs();
    const n255 = bytesToName(new Uint8Array(255).fill(0xff));
    fs.writeFile(`/${n255}`, 'ok');
    const before = hash(fs);
    expect(() => fs.writeFile(`/${n255}\udcff`, 'no')).toThrow(/ENAMETOOLONG/);
    expect(hash(fs)).toBe(before);
  });
});

describe('extended attributes count in the byte quota', () => {
  it('200 x 64 KiB xattrs under a 1 MiB quota fail, and the state is as before the refused one', () => {
    const fs = new InodeFs({ quota: { bytes: 2 ** 20 } });
    fs.writeFile('/f', 'x');
    const ino = fs.inoOf('/f');
    const value = new Uint8Array(65536);
    let refusedAt = -1;
    for (let i = 0; i < 200; i++) {
      const before = hash(fs);
      try {
        fs.setxattr(ino, `user.a${i}`, value);
      } catch (e) {
        expect((e as FsError).code).toBe('ENOSPC');
        expect(hash(fs)).toBe(before);
        refusedAt = i;
        break;
      }
    }
    expect(refusedAt).toBe(15); // 15 x (64 KiB + name) + 1 byte fit in 1 MiB; the 16th does not
    expect(fs.usage().bytes).toBe(1 + 15 * 65536 + 10 * 'user.a0'.length + 5 * 'user.a10'.length);
  });

  it('removing an xattr or the file gives the bytes back; restore agrees', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', 'abc');
    const ino = fs.inoOf('/f');
    fs.setxattr(ino, 'user.k', new Uint8Array(100));
    expect(fs.usage().bytes).toBe(3 + 6 + 100);
    fs.setxattr(ino, 'user.k', new Uint8Array(10));
    expect(fs.usage().bytes).toBe(3 + 6 + 10);
    expect(InodeFs.restore(fs.snapshot()).usage()).toEqual(fs.usage());
    fs.removexattr(ino, 'user.k');
    expect(fs.usage().bytes).toBe(3);
    fs.setxattr(ino, 'user.k', new Uint8Array(10));
    fs.unlink('/f');
    expect(fs.usage()).toEqual({ bytes: 0, inodes: 1 });
  });
});
