import { describe, expect, it } from 'vitest';
import { FsError, InodeFs, O_APPEND, O_RDONLY, O_RDWR, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFMT, S_IFREG, XATTR_CREATE, XATTR_REPLACE } from '../src/index.js';

/** A clock that advances 1 µs per reading, so every time-changing call is visible. */
function steppingClock() {
  let t = 1_700_000_000_000_000_000n;
  return () => (t += 1000n);
}

const newFs = () => new InodeFs({ clock: steppingClock(), uid: 1000, gid: 1000 });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FsError);
    return (e as FsError).code;
  }
  return 'no error';
}

describe('files and directories', () => {
  it('writes, reads, appends and stats files', () => {
    const fs = newFs();
    fs.writeFile('/a.txt', 'hello');
    fs.appendFile('/a.txt', ', world');
    expect(fs.readFile('/a.txt', 'utf8')).toBe('hello, world');
    const st = fs.stat('/a.txt');
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(12);
    expect(st.mode & 0o777).toBe(0o644);
    expect(st.uid).toBe(1000);
    expect(st.nlink).toBe(1);
  });

  it('resolves relative paths against the root', () => {
    const fs = newFs();
    fs.mkdir('d');
    fs.writeFile('d/f', 'x');
    expect(fs.readFile('/d/f', 'utf8')).toBe('x');
    expect(fs.readFile('./d/../d/f', 'utf8')).toBe('x');
  });

  it('mkdir -p creates every level and is idempotent, EEXIST on a file', () => {
    const fs = newFs();
    fs.mkdir('/a/b/c/d', { recursive: true });
    fs.mkdir('/a/b/c/d', { recursive: true });
    expect(fs.stat('/a/b/c/d').isDirectory()).toBe(true);
    expect(fs.stat('/a').nlink).toBe(3);
    fs.writeFile('/a/f', '');
    expect(code(() => fs.mkdir('/a/f', { recursive: true }))).toBe('EEXIST');
    expect(code(() => fs.mkdir('/a/f/g', { recursive: true }))).toBe('ENOTDIR');
    expect(code(() => fs.mkdir('/a'))).toBe('EEXIST');
    expect(code(() => fs.mkdir('/x/y'))).toBe('ENOENT');
  });

  it('reports the errno of every misuse', () => {
    const fs = newFs();
    fs.mkdir('/d');
    fs.writeFile('/d/f', 'x');
    expect(code(() => fs.readFile('/nope'))).toBe('ENOENT');
    expect(code(() => fs.readFile('/d'))).toBe('EISDIR');
    expect(code(() => fs.readFile('/d/f/g'))).toBe('ENOTDIR');
    expect(code(() => fs.writeFile('/d', 'x'))).toBe('EISDIR');
    expect(code(() => fs.writeFile('/d/f', 'x', { flag: 'wx' }))).toBe('EEXIST');
    expect(code(() => fs.unlink('/d'))).toBe('EISDIR');
    expect(code(() => fs.rmdir('/d'))).toBe('ENOTEMPTY');
    expect(code(() => fs.rmdir('/d/f'))).toBe('ENOTDIR');
    expect(code(() => fs.rmdir('/'))).toBe('EBUSY');
    expect(code(() => fs.readdir('/d/f'))).toBe('ENOTDIR');
    expect(code(() => fs.link('/d', '/d2'))).toBe('EPERM');
    expect(code(() => fs.readlink('/d/f'))).toBe('EINVAL');
    expect(code(() => fs.rm('/d'))).toBe('EISDIR');
    expect(code(() => fs.truncate('/d', 0))).toBe('EISDIR');
    expect(code(() => fs.stat('/d/f/'))).toBe('ENOTDIR');
  });

  it('readdir lists names sorted, with types', () => {
    const fs = newFs();
    fs.mkdir('/d');
    fs.writeFile('/d/b', '');
    fs.mkdir('/d/a');
    fs.symlink('b', '/d/c');
    expect(fs.readdir('/d')).toEqual(['a', 'b', 'c']);
    expect(fs.readdir('/d', { withFileTypes: true }).map((e) => [e.name, e.kind])).toEqual([
      ['a', 'directory'],
      ['b', 'file'],
      ['c', 'symlink'],
    ]);
  });

  it('rm -r removes a deep tree and frees its inodes', () => {
    const fs = newFs();
    let p = '';
    for (let i = 0; i < 200; i++) p += `/d${i}`;
    fs.mkdir(p, { recursive: true });
    fs.writeFile(p + '/leaf', 'x');
    const before = fs.usage().inodes;
    expect(before).toBe(202);
    fs.rm('/d0', { recursive: true });
    expect(fs.exists('/d0')).toBe(false);
    expect(fs.usage()).toEqual({ bytes: 0, inodes: 1 });
    fs.rm('/d0', { recursive: true, force: true });
    expect(code(() => fs.rm('/d0'))).toBe('ENOENT');
  });
});

describe('rename', () => {
  it('replaces an existing file and keeps the moved inode', () => {
    const fs = newFs();
    fs.writeFile('/a', 'A');
    fs.writeFile('/b', 'B');
    const ino = fs.stat('/a').ino;
    fs.rename('/a', '/b');
    expect(fs.exists('/a')).toBe(false);
    expect(fs.readFile('/b', 'utf8')).toBe('A');
    expect(fs.stat('/b').ino).toBe(ino);
    expect(fs.usage().inodes).toBe(2);
  });

  it('replaces an empty directory, refuses a non-empty one or a type mismatch', () => {
    const fs = newFs();
    fs.mkdir('/src/sub', { recursive: true });
    fs.mkdir('/empty');
    fs.mkdir('/full/x', { recursive: true });
    fs.writeFile('/file', '');
    fs.rename('/src', '/empty');
    expect(fs.exists('/empty/sub')).toBe(true);
    expect(code(() => fs.rename('/empty', '/full'))).toBe('ENOTEMPTY');
    expect(code(() => fs.rename('/empty', '/file'))).toBe('ENOTDIR');
    expect(code(() => fs.rename('/file', '/full'))).toBe('EISDIR');
    expect(fs.stat('/').nlink).toBe(4);
  });

  it('refuses to move a directory into its own subtree', () => {
    const fs = newFs();
    fs.mkdir('/a/b/c', { recursive: true });
    expect(code(() => fs.rename('/a', '/a/b/c/a'))).toBe('EINVAL');
    expect(code(() => fs.rename('/a', '/a/x'))).toBe('EINVAL');
    expect(fs.readdir('/a')).toEqual(['b']);
  });

  it('moves across directories and fixes link counts', () => {
    const fs = newFs();
    fs.mkdir('/x/d', { recursive: true });
    fs.mkdir('/y');
    fs.rename('/x/d', '/y/d');
    expect(fs.stat('/x').nlink).toBe(2);
    expect(fs.stat('/y').nlink).toBe(3);
    expect(fs.realpath('/y/d')).toBe('/y/d');
  });

  it('honours RENAME_NOREPLACE and RENAME_EXCHANGE', () => {
    const fs = newFs();
    fs.writeFile('/a', 'A');
    fs.mkdir('/b');
    expect(code(() => fs.rename('/a', '/b', RENAME_NOREPLACE))).toBe('EEXIST');
    fs.rename('/a', '/b', RENAME_EXCHANGE);
    expect(fs.stat('/a').isDirectory()).toBe(true);
    expect(fs.readFile('/b', 'utf8')).toBe('A');
    expect(code(() => fs.rename('/b', '/zz', RENAME_EXCHANGE))).toBe('ENOENT');
  });

  it('renaming a name onto another name of the same inode does nothing', () => {
    const fs = newFs();
    fs.writeFile('/a', 'A');
    fs.link('/a', '/b');
    fs.rename('/a', '/b');
    expect(fs.readdir('/')).toEqual(['a', 'b']);
    expect(fs.stat('/a').nlink).toBe(2);
  });
});

describe('links', () => {
  it('hard links across directories share content and nlink', () => {
    const fs = newFs();
    fs.mkdir('/x');
    fs.mkdir('/y');
    fs.writeFile('/x/f', 'one');
    fs.link('/x/f', '/y/g');
    expect(fs.stat('/x/f').nlink).toBe(2);
    expect(fs.stat('/y/g').ino).toBe(fs.stat('/x/f').ino);
    fs.writeFile('/y/g', 'two');
    expect(fs.readFile('/x/f', 'utf8')).toBe('two');
    fs.unlink('/x/f');
    expect(fs.stat('/y/g').nlink).toBe(1);
    expect(fs.readFile('/y/g', 'utf8')).toBe('two');
    expect(code(() => fs.link('/y/g', '/y/g'))).toBe('EEXIST');
  });

  it('symlinks resolve relative and absolute targets, lstat sees the link', () => {
    const fs = newFs();
    fs.mkdir('/d/e', { recursive: true });
    fs.writeFile('/d/e/f', 'data');
    fs.symlink('e/f', '/d/rel');
    fs.symlink('/d/e', '/abs');
    fs.symlink('../e/f', '/d/e/up');
    expect(fs.readFile('/d/rel', 'utf8')).toBe('data');
    expect(fs.readFile('/abs/f', 'utf8')).toBe('data');
    expect(fs.readFile('/d/e/up', 'utf8')).toBe('data');
    expect(fs.lstat('/d/rel').isSymbolicLink()).toBe(true);
    expect(fs.lstat('/d/rel').size).toBe(3);
    expect(fs.readlink('/d/rel')).toBe('e/f');
    expect(fs.realpath('/abs/f')).toBe('/d/e/f');
    fs.symlink('missing', '/dangling');
    expect(code(() => fs.stat('/dangling'))).toBe('ENOENT');
    fs.writeFile('/dangling', 'made');
    expect(fs.readFile('/missing', 'utf8')).toBe('made');
  });

  it('a symlink loop fails with ELOOP after 40 hops, a chain of 40 resolves', () => {
    const fs = newFs();
    fs.symlink('/b', '/a');
    fs.symlink('/a', '/b');
    expect(code(() => fs.stat('/a'))).toBe('ELOOP');
    fs.writeFile('/target', 'end');
    fs.symlink('/target', '/l0');
    for (let i = 1; i < 40; i++) fs.symlink(`/l${i - 1}`, `/l${i}`);
    expect(fs.readFile('/l39', 'utf8')).toBe('end');
    fs.symlink('/l39', '/l40');
    expect(code(() => fs.readFile('/l40'))).toBe('ELOOP');
  });
});

describe('handles and content', () => {
  it('an open handle survives unlink, and the inode goes at the last release', () => {
    const fs = newFs();
    fs.writeFile('/f', 'still here');
    const ino = fs.stat('/f').ino;
    const fh = fs.open(ino, O_RDWR);
    fs.unlink('/f');
    expect(fs.exists('/f')).toBe(false);
    expect(new TextDecoder().decode(fs.read(fh, 100, 0))).toBe('still here');
    fs.write(fh, new TextEncoder().encode('!'), 10);
    expect(fs.getattr(ino).nlink).toBe(0);
    expect(fs.usage().inodes).toBe(2);
    fs.release(fh);
    expect(code(() => fs.getattr(ino))).toBe('ENOENT');
    expect(fs.usage()).toEqual({ bytes: 0, inodes: 1 });
    expect(code(() => fs.read(fh, 1, 0))).toBe('EBADF');
  });

  it('a hold keeps an unlinked inode readable and writable by inode until unhold, with handles counted too', () => {
    const fs = newFs();
    fs.writeFile('/f', 'held');
    const ino = fs.stat('/f').ino;
    fs.hold(ino);
    const fh = fs.open(ino, O_RDONLY);
    fs.unlink('/f');
    const buf = new Uint8Array(10);
    expect(new TextDecoder().decode(buf.subarray(0, fs.readIno(ino, buf, 0)))).toBe('held');
    expect(fs.writeIno(ino, new TextEncoder().encode('!'), 4)).toBe(1);
    fs.unhold(ino);
    expect(fs.getattr(ino).size).toBe(5); // the handle still keeps it
    fs.release(fh);
    expect(code(() => fs.getattr(ino))).toBe('ENOENT');
    expect(fs.usage()).toEqual({ bytes: 0, inodes: 1 });
    expect(code(() => fs.hold(ino))).toBe('ENOENT');
    // A hold on a linked inode changes nothing when dropped.
    fs.writeFile('/g', 'g');
    const g = fs.stat('/g').ino;
    fs.hold(g);
    fs.unhold(g);
    expect(fs.readFile('/g', 'utf8')).toBe('g');
    // A fork does not inherit a hold on an unlinked inode: it is not part of the fork's tree.
    fs.hold(g);
    fs.unlink('/g');
    const child = fs.fork();
    expect(code(() => child.getattr(g))).toBe('ENOENT');
    expect(fs.getattr(g).nlink).toBe(0);
  });

  it('O_APPEND writes at the end whatever the position', () => {
    const fs = newFs();
    fs.writeFile('/log', 'a');
    const ino = fs.stat('/log').ino;
    const h1 = fs.open(ino, O_WRONLY | O_APPEND);
    const h2 = fs.open(ino, O_WRONLY | O_APPEND);
    fs.write(h1, new TextEncoder().encode('b'), 0);
    fs.write(h2, new TextEncoder().encode('c'), 0);
    fs.write(h1, new TextEncoder().encode('d'), 0);
    expect(fs.readFile('/log', 'utf8')).toBe('abcd');
    expect(code(() => fs.read(h1, 1, 0))).toBe('EBADF');
    const ro = fs.open(ino, O_RDONLY);
    expect(code(() => fs.write(ro, new Uint8Array(1), 0))).toBe('EBADF');
  });

  it('truncate up leaves a hole of zeros, down drops bytes, and growth after reads zeros', () => {
    const fs = newFs();
    fs.writeFile('/f', 'abcdef');
    fs.truncate('/f', 3);
    expect(fs.readFile('/f', 'utf8')).toBe('abc');
    fs.truncate('/f', 6);
    expect([...fs.readFile('/f')]).toEqual([97, 98, 99, 0, 0, 0]);
    fs.truncate('/f', 100_000);
    const ino = fs.stat('/f').ino;
    const fh = fs.open(ino, O_RDWR);
    fs.write(fh, new Uint8Array([7]), 70_000);
    const all = fs.readFile('/f');
    expect(all.length).toBe(100_000);
    expect(all[69_999]).toBe(0);
    expect(all[70_000]).toBe(7);
    expect(all.subarray(6, 69_999).every((b) => b === 0)).toBe(true);
    // A sparse file allocates only the chunks it wrote.
    expect(fs.stat('/f').blocks * 512).toBeLessThan(40_000);
  });

  it('reads across chunk boundaries and short at EOF', () => {
    const fs = newFs();
    const data = new Uint8Array(50_000).map((_, i) => i % 251);
    fs.writeFile('/big', data);
    const fh = fs.open(fs.stat('/big').ino, O_RDONLY);
    expect(Buffer.from(fs.read(fh, 10_000, 12_000)).equals(data.subarray(12_000, 22_000))).toBe(true);
    expect(fs.read(fh, 100, 49_990).length).toBe(10);
    expect(fs.read(fh, 100, 60_000).length).toBe(0);
  });
});

describe('times (atime is noatime: reads never change it)', () => {
  it('write sets mtime and ctime; chmod and link set only ctime; reads change nothing', () => {
    const fs = newFs();
    fs.writeFile('/f', 'x');
    const s0 = fs.stat('/f');
    fs.readFile('/f');
    expect(fs.stat('/f').atimeNs).toBe(s0.atimeNs);
    fs.appendFile('/f', 'y');
    const s1 = fs.stat('/f');
    expect(s1.mtimeNs).toBeGreaterThan(s0.mtimeNs);
    expect(s1.ctimeNs).toBeGreaterThan(s0.ctimeNs);
    fs.chmod('/f', 0o600);
    const s2 = fs.stat('/f');
    expect(s2.mtimeNs).toBe(s1.mtimeNs);
    expect(s2.ctimeNs).toBeGreaterThan(s1.ctimeNs);
    expect(s2.mode & 0o7777).toBe(0o600);
    expect(s2.mode & S_IFMT).toBe(S_IFREG);
    fs.link('/f', '/g');
    const s3 = fs.stat('/f');
    expect(s3.mtimeNs).toBe(s2.mtimeNs);
    expect(s3.ctimeNs).toBeGreaterThan(s2.ctimeNs);
    expect(s3.birthtimeNs).toBe(s0.birthtimeNs);
  });

  it('creating and removing entries updates the directory mtime; utimes keeps nanoseconds', () => {
    const fs = newFs();
    fs.mkdir('/d');
    const d0 = fs.stat('/d').mtimeNs;
    fs.writeFile('/d/f', '');
    const d1 = fs.stat('/d').mtimeNs;
    expect(d1).toBeGreaterThan(d0);
    fs.unlink('/d/f');
    expect(fs.stat('/d').mtimeNs).toBeGreaterThan(d1);
    fs.writeFile('/t', '');
    fs.utimes('/t', 123_456_789_012_345_678n, 987_654_321_123_456_789n);
    expect(fs.stat('/t').atimeNs).toBe(123_456_789_012_345_678n);
    expect(fs.stat('/t').mtimeNs).toBe(987_654_321_123_456_789n);
  });

  it('chown changes owners and the injected clock drives every time', () => {
    const fs = new InodeFs({ clock: () => 42n });
    fs.writeFile('/f', 'x');
    fs.chown('/f', 5, 6);
    const st = fs.stat('/f');
    expect([st.uid, st.gid, st.mtimeNs, st.ctimeNs, st.atimeNs]).toEqual([5, 6, 42n, 42n, 42n]);
  });
});

describe('inode-level API', () => {
  it('lookup, create, mkdirAt, renameAt, readdirIno, statfs', () => {
    const fs = newFs();
    const d = fs.mkdirAt(fs.rootIno, 'd', 0o755);
    const { stats, fh } = fs.create(d.ino, 'f', 0o640);
    fs.write(fh, new TextEncoder().encode('hi'), 0);
    fs.release(fh);
    expect(fs.lookup(d.ino, 'f').ino).toBe(stats.ino);
    expect(fs.lookup(d.ino, '..').ino).toBe(fs.rootIno);
    expect(fs.getattr(stats.ino).mode & 0o777).toBe(0o640);
    fs.renameAt(d.ino, 'f', fs.rootIno, 'g');
    expect(fs.readdirIno(fs.rootIno).map((e) => e.name).sort()).toEqual(['d', 'g']);
    const sfs = fs.statfs();
    expect(sfs.namemax).toBe(255);
    expect(sfs.files - sfs.ffree).toBe(3);
    expect(code(() => fs.lookup(d.ino, 'f'))).toBe('ENOENT');
    expect(code(() => fs.getattr(9999))).toBe('ENOENT');
  });

  it('xattrs: set, create/replace flags, list, remove', () => {
    const fs = newFs();
    fs.writeFile('/f', '');
    const ino = fs.stat('/f').ino;
    fs.setxattr(ino, 'user.a', new Uint8Array([1, 2]));
    expect(code(() => fs.setxattr(ino, 'user.a', new Uint8Array(), XATTR_CREATE))).toBe('EEXIST');
    expect(code(() => fs.setxattr(ino, 'user.b', new Uint8Array(), XATTR_REPLACE))).toBe('ENODATA');
    fs.setxattr(ino, 'user.b', new Uint8Array([3]));
    expect(fs.listxattr(ino)).toEqual(['user.a', 'user.b']);
    expect([...fs.getxattr(ino, 'user.a')]).toEqual([1, 2]);
    fs.removexattr(ino, 'user.a');
    expect(code(() => fs.getxattr(ino, 'user.a'))).toBe('ENODATA');
    expect(code(() => fs.removexattr(ino, 'user.a'))).toBe('ENODATA');
  });

  it('setattr with size truncates and mknod makes fifos', () => {
    const fs = newFs();
    fs.writeFile('/f', 'abcdef');
    fs.setattr(fs.stat('/f').ino, { size: 2, mtimeNs: 5n });
    expect(fs.readFile('/f', 'utf8')).toBe('ab');
    expect(fs.stat('/f').mtimeNs).toBe(5n);
    const p = fs.mknod(fs.rootIno, 'pipe', 0o010644);
    expect(p.kind).toBe('fifo');
  });

  it('watch reports mutations and stops after unsubscribe', () => {
    const fs = newFs();
    const events: string[] = [];
    const stop = fs.watch((ev) => events.push(ev.type === 'entry' ? `entry:${ev.name}` : ev.type));
    fs.writeFile('/a', 'x');
    fs.unlink('/a');
    stop();
    fs.writeFile('/b', 'y');
    expect(events).toEqual(['entry:a', 'inode', 'entry:a', 'inode']);
  });
});
