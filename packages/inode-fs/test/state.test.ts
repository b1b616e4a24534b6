import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FsError, InodeFs, SnapshotError, O_RDWR } from '../src/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function steppingClock() {
  let t = 1_000_000_000_000_000_000n;
  return () => (t += 1_234_567n);
}

/** A script touching every feature a snapshot must carry. */
function buildRichTree(fs: InodeFs): void {
  fs.mkdir('/src/lib', { recursive: true });
  fs.writeFile('/src/main.ts', 'console.log("hi")\n');
  fs.writeFile('/src/lib/util.ts', 'export const x = 1;\n', { mode: 0o600 });
  fs.link('/src/main.ts', '/main-link.ts');
  fs.symlink('src/lib', '/lib');
  fs.chmod('/src/lib', 0o750);
  fs.chown('/src/lib/util.ts', 123, 456);
  fs.utimes('/src/main.ts', 111_222_333_444_555_666n, 777_888_999_000_111_222n);
  const sparse = fs.stat('/src/main.ts').ino;
  void sparse;
  fs.writeFile('/sparse.bin', '');
  fs.truncate('/sparse.bin', 1_000_000);
  const fh = fs.open(fs.stat('/sparse.bin').ino, O_RDWR);
  fs.write(fh, new Uint8Array([1, 2, 3]), 500_000);
  fs.release(fh);
  fs.setxattr(fs.stat('/src').ino, 'user.note', new TextEncoder().encode('xattr value'));
  fs.mkdir('/empty');
  fs.writeFile('/gone', 'temporary');
  fs.unlink('/gone');
}

describe('fork', () => {
  it('is copy-on-write: neither side sees the other side\'s later writes', () => {
    const a = new InodeFs();
    buildRichTree(a);
    const b = a.fork();
    a.writeFile('/src/main.ts', 'A');
    b.writeFile('/src/main.ts', 'B');
    b.mkdir('/only-b');
    a.rm('/src/lib', { recursive: true });
    expect(a.readFile('/src/main.ts', 'utf8')).toBe('A');
    expect(b.readFile('/src/main.ts', 'utf8')).toBe('B');
    expect(b.readFile('/main-link.ts', 'utf8')).toBe('B');
    expect(a.exists('/only-b')).toBe(false);
    expect(b.exists('/src/lib/util.ts')).toBe(true);
    // Writes in the middle of a shared chunk do not leak either.
    const c = b.fork();
    const fh = c.open(c.stat('/sparse.bin').ino, O_RDWR);
    c.write(fh, new Uint8Array([9]), 500_001);
    c.release(fh);
    expect(b.readFile('/sparse.bin')[500_001]).toBe(2);
    expect(c.readFile('/sparse.bin')[500_001]).toBe(9);
  });

  it('an inode kept alive by an open handle on one side is not part of the fork', () => {
    const a = new InodeFs();
    a.writeFile('/f', 'x');
    const ino = a.stat('/f').ino;
    const fh = a.open(ino);
    a.unlink('/f');
    const b = a.fork();
    expect(() => b.getattr(ino)).toThrow(FsError);
    expect(b.usage().inodes).toBe(1);
    expect(a.read(fh, 1, 0)[0]).toBe(120);
  });

  it('reset adopts another state in place and notifies watchers', () => {
    const a = new InodeFs();
    a.writeFile('/x', '1');
    const checkpoint = a.fork();
    a.writeFile('/x', '2');
    a.writeFile('/y', '3');
    const seen: string[] = [];
    a.watch((ev) => seen.push(ev.type));
    a.reset(checkpoint);
    expect(a.readFile('/x', 'utf8')).toBe('1');
    expect(a.exists('/y')).toBe(false);
    expect(seen).toEqual(['reset']);
    a.writeFile('/x', '4');
    expect(checkpoint.readFile('/x', 'utf8')).toBe('1');
  });
});

describe('snapshot', () => {
  it('round-trips everything byte for byte', () => {
    const fs = new InodeFs({ clock: steppingClock() });
    buildRichTree(fs);
    const bytes = fs.snapshot();
    const back = InodeFs.restore(bytes);
    expect(sha(back.snapshot())).toBe(sha(bytes));
    // Hard link identity, symlinks, modes, owners, all four times, xattrs, holes, inode numbers.
    expect(back.stat('/main-link.ts').ino).toBe(back.stat('/src/main.ts').ino);
    expect(back.stat('/src/main.ts').nlink).toBe(2);
    expect(back.readlink('/lib')).toBe('src/lib');
    expect(back.stat('/src/lib').mode & 0o7777).toBe(0o750);
    const util = back.stat('/src/lib/util.ts');
    expect([util.uid, util.gid, util.mode & 0o777]).toEqual([123, 456, 0o600]);
    const orig = fs.stat('/src/main.ts');
    const copy = back.stat('/src/main.ts');
    expect([copy.atimeNs, copy.mtimeNs, copy.ctimeNs, copy.birthtimeNs]).toEqual([orig.atimeNs, orig.mtimeNs, orig.ctimeNs, orig.birthtimeNs]);
    expect(copy.atimeNs).toBe(111_222_333_444_555_666n);
    expect(new TextDecoder().decode(back.getxattr(back.stat('/src').ino, 'user.note'))).toBe('xattr value');
    const sparse = back.readFile('/sparse.bin');
    expect(sparse.length).toBe(1_000_000);
    expect([...sparse.subarray(499_999, 500_004)]).toEqual([0, 1, 2, 3, 0]);
    expect(back.stat('/sparse.bin').blocks).toBe(fs.stat('/sparse.bin').blocks);
    expect(back.stat('/src').ino).toBe(fs.stat('/src').ino);
    // The next inode number carries over, so new files get the same numbers on both.
    fs.writeFile('/n', '');
    back.writeFile('/n', '');
    expect(back.stat('/n').ino).toBe(fs.stat('/n').ino);
    expect(back.usage()).toEqual(fs.usage());
  });

  it('restores every name of every inode (hard links across directories, in the original order)', () => {
    const fs = new InodeFs({ clock: steppingClock() });
    fs.mkdir('/z/y', { recursive: true });
    fs.mkdir('/a');
    fs.writeFile('/z/y/file', 'shared');
    fs.link('/z/y/file', '/a/second');
    fs.link('/z/y/file', '/a/first');
    fs.link('/z/y/file', '/top');
    const ino = fs.stat('/top').ino;
    const back = InodeFs.restore(fs.snapshot());
    // Canonical order: directories by inode number, names sorted within each.
    expect(back.pathsOf(ino)).toEqual(['/top', '/z/y/file', '/a/first', '/a/second']);
    expect(back.pathsOf(back.stat('/z/y').ino)).toEqual(['/z/y']);
    // Links drive '..', rename checks and unlink bookkeeping: all of them work on the restored state.
    back.rename('/z', '/a/z');
    expect(back.pathsOf(ino).sort()).toEqual(['/a/first', '/a/second', '/a/z/y/file', '/top']);
    back.unlink('/top');
    expect(back.stat('/a/first').nlink).toBe(3);
    expect(back.lookup(back.stat('/a/z/y').ino, '..').ino).toBe(back.stat('/a/z').ino);
  });

  it('is deterministic: the same script and clock give hash-equal bytes', () => {
    const run = () => {
      const fs = new InodeFs({ clock: steppingClock(), uid: 1, gid: 1 });
      buildRichTree(fs);
      for (let i = 0; i < 300; i++) fs.writeFile(`/src/f${(i * 7919) % 300}`, `file ${i}`);
      fs.rename('/src/f1', '/src/lib/f1');
      return sha(fs.snapshot());
    };
    expect(run()).toBe(run());
  });

  it('restore adopts the bytes without writing them; copy: true makes it independent', () => {
    const fs = new InodeFs();
    fs.writeFile('/a', 'x'.repeat(10_000));
    const bytes = fs.snapshot();
    const pristine = sha(bytes);
    const adopted = InodeFs.restore(bytes);
    adopted.writeFile('/a', 'y'.repeat(10_000));
    adopted.writeFile('/b', 'new');
    expect(sha(bytes), 'restore wrote into the adopted bytes').toBe(pristine);
    const back = InodeFs.restore(bytes, { copy: true });
    bytes.fill(0);
    expect(back.readFile('/a', 'utf8')).toBe('x'.repeat(10_000));
    back.appendFile('/a', '+');
    const again = InodeFs.restore(back.snapshot());
    expect(again.readFile('/a', 'utf8')).toBe('x'.repeat(10_000) + '+');
  });

  it('deltas follow the change, restore on their parent only, and equal the full state', () => {
    const base = new InodeFs({ clock: steppingClock() });
    for (let d = 0; d < 20; d++) {
      base.mkdir(`/d${d}`);
      for (let f = 0; f < 50; f++) base.writeFile(`/d${d}/f${f}`, 'x'.repeat(1024));
    }
    const parent = base.fork();
    base.writeFile('/d3/f7', 'changed');
    base.rename('/d4/f1', '/d5/moved');
    base.unlink('/d6/f2');
    base.mkdir('/newdir');
    base.symlink('../d3/f7', '/newdir/link');
    const delta = base.snapshot({ since: parent });
    const full = base.snapshot();
    expect(delta.length).toBeLessThan(full.length / 20);
    const back = InodeFs.restore(delta, { parent });
    expect(sha(back.snapshot())).toBe(sha(full));
    expect(back.readFile('/newdir/link', 'utf8')).toBe('changed');
    expect(back.realpath('/d5/moved')).toBe('/d5/moved');
    expect(back.diff(base)).toEqual({ added: [], modified: [], deleted: [], renamed: [] });
    // The wrong parent, or none, is refused.
    const other = new InodeFs();
    expect(() => InodeFs.restore(delta, { parent: other })).toThrow(/different parent/);
    expect(() => InodeFs.restore(delta)).toThrow(SnapshotError);
  });

  it('refuses damaged, truncated and foreign bytes and leaves the live state untouched', () => {
    const fs = new InodeFs();
    fs.writeFile('/keep', 'me');
    const live = sha(fs.snapshot());
    const good = fs.snapshot();
    const flipped = good.slice();
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    expect(() => InodeFs.restore(flipped)).toThrow(/checksum/);
    expect(() => InodeFs.restore(good.subarray(0, good.length - 9))).toThrow(SnapshotError);
    expect(() => InodeFs.restore(new Uint8Array(3))).toThrow(/truncated/);
    expect(() => InodeFs.restore(new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not a snapshot'))).toThrow(/not a vws snapshot/);
    expect(sha(fs.snapshot())).toBe(live);
  });
});

describe('diff', () => {
  it('reports added, modified, deleted and renamed entries with inode numbers', () => {
    const a = new InodeFs();
    a.mkdir('/d');
    a.writeFile('/d/keep', 'k');
    a.writeFile('/d/edit', 'v1');
    a.writeFile('/d/drop', 'x');
    a.writeFile('/d/move', 'm');
    const b = a.fork();
    b.writeFile('/d/edit', 'v2');
    b.unlink('/d/drop');
    b.rename('/d/move', '/moved');
    b.writeFile('/d/new', 'n');
    b.chmod('/d/keep', 0o600);
    const d = a.diff(b);
    expect(d.added.map((c) => c.path)).toEqual(['/d/new']);
    expect(d.modified.map((c) => c.path)).toEqual(['/d/edit', '/d/keep']);
    expect(d.deleted.map((c) => c.path)).toEqual(['/d/drop']);
    expect(d.renamed).toEqual([{ path: '/moved', oldPath: '/d/move', ino: a.stat('/d/move').ino, kind: 'file' }]);
    expect(b.diff(b.fork())).toEqual({ added: [], modified: [], deleted: [], renamed: [] });
  });

  it('a file replaced by rename (write temp, rename over) is a modification, not delete + add', () => {
    const a = new InodeFs();
    a.writeFile('/cfg', 'v1');
    const b = a.fork();
    b.writeFile('/cfg.tmp', 'v2');
    b.rename('/cfg.tmp', '/cfg');
    const d = a.diff(b);
    expect(d.modified.map((c) => c.path)).toEqual(['/cfg']);
    expect([d.added, d.deleted, d.renamed]).toEqual([[], [], []]);
  });

  it('a rewrite with identical bytes is not a modification', () => {
    const a = new InodeFs({ clock: () => 5n });
    a.writeFile('/f', 'same');
    const b = a.fork();
    b.writeFile('/f', 'same');
    expect(a.diff(b).modified).toEqual([]);
  });

  it('a directory is modified when its mode changes, not when its entries (and so its mtime) do', () => {
    const a = new InodeFs();
    a.mkdir('/d');
    a.mkdir('/e');
    const b = a.fork();
    b.chmod('/d', 0o700);
    b.writeFile('/e/new', 'n');
    const d = b.diff(b);
    expect(d.modified).toEqual([]);
    expect(a.diff(b).modified.map((c) => c.path)).toEqual(['/d']);
    expect(a.diff(b).added.map((c) => c.path)).toEqual(['/e/new']);
  });

  it('works between unrelated states too', () => {
    const a = new InodeFs();
    a.writeFile('/x', '1');
    const b = new InodeFs();
    b.writeFile('/y', '2');
    const d = a.diff(b);
    expect(d.deleted.map((c) => c.path)).toEqual(['/x']);
    expect(d.added.map((c) => c.path)).toEqual(['/y']);
  });
});
