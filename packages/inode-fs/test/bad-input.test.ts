// Bad input gets a typed error that says what and where, and the state before the call stays intact
// (checked by hashing a full snapshot before and after each call).

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FsError, InodeFs, O_RDWR } from '../src/index.js';

const hash = (fs: InodeFs) => createHash('sha256').update(fs.snapshot()).digest('hex');

function seeded(quota?: { bytes?: number; inodes?: number }): InodeFs {
  let t = 0n;
  const fs = new InodeFs({ clock: () => (t += 1n), quota });
  fs.mkdir('/work/dir', { recursive: true });
  fs.writeFile('/work/file.txt', 'precious');
  fs.symlink('file.txt', '/work/link');
  return fs;
}

function expectRefused(fs: InodeFs, fn: () => unknown, code: string, pathPart?: string): FsError {
  const before = hash(fs);
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(FsError);
  const fe = error as FsError;
  expect(fe.code).toBe(code);
  expect(fe.errno).toBeGreaterThan(0);
  expect(fe.message).toContain(code);
  if (pathPart) expect(fe.message).toContain(pathPart);
  expect(hash(fs), 'state changed by a refused call').toBe(before);
  return fe;
}

describe('bad paths and names', () => {
  const long = 'x'.repeat(256);
  const cases: Array<[string, (fs: InodeFs) => unknown, string]> = [
    ['NUL byte in a written path', (fs) => fs.writeFile('/work/a\0b', 'x'), 'EINVAL'],
    ['NUL byte in a mkdir path', (fs) => fs.mkdir('/work/\0', { recursive: true }), 'EINVAL'],
    ['NUL byte in a symlink target', (fs) => fs.symlink('a\0b', '/work/s'), 'EINVAL'],
    ['NUL byte in a name at inode level', (fs) => fs.create(fs.rootIno, 'a\0', 0o644), 'EINVAL'],
    ['name of 256 bytes', (fs) => fs.writeFile(`/work/${long}`, 'x'), 'ENAMETOOLONG'],
    ['name of 256 bytes in UTF-8 (86 three-byte chars)', (fs) => fs.mkdir(`/work/${'€'.repeat(86)}`), 'ENAMETOOLONG'],
    ['rename onto a long name', (fs) => fs.rename('/work/file.txt', `/work/${long}`), 'ENAMETOOLONG'],
    ['path over 4096 bytes', (fs) => fs.stat('/a'.repeat(2100)), 'ENAMETOOLONG'],
    ['.. above the root', (fs) => fs.readFile('/../etc/passwd'), 'EACCES'],
    ['.. above the root after descending', (fs) => fs.writeFile('work/../../escape', 'x'), 'EACCES'],
    ['empty path', (fs) => fs.writeFile('', 'x'), 'ENOENT'],
    ['empty path to stat', (fs) => fs.stat(''), 'ENOENT'],
    ['empty symlink target', (fs) => fs.symlink('', '/work/empty'), 'ENOENT'],
    ['write under a file', (fs) => fs.writeFile('/work/file.txt/child', 'x'), 'ENOTDIR'],
    ['remove the root', (fs) => fs.rm('/', { recursive: true }), 'EBUSY'],
    ['negative truncate', (fs) => fs.truncate('/work/file.txt', -1), 'EINVAL'],
    ['read from a bad handle', (fs) => fs.read(12345, 1, 0), 'EBADF'],
  ];
  for (const [what, fn, code] of cases) {
    it(`${what} -> ${code}, nothing changes`, () => {
      const fs = seeded();
      expectRefused(fs, () => fn(fs), code);
    });
  }

  it('errors name the path they are about', () => {
    const fs = seeded();
    const e = expectRefused(fs, () => fs.readFile('/work/missing.txt'), 'ENOENT', '/work/missing.txt');
    expect(e.syscall).toBe('open');
    expect(e.path).toBe('/work/missing.txt');
  });
});

describe('quotas', () => {
  it('a write past the byte quota fails with ENOSPC and loses nothing (replace, append, offset)', () => {
    const fs = seeded({ bytes: 1000 });
    expectRefused(fs, () => fs.writeFile('/work/file.txt', 'y'.repeat(2000)), 'ENOSPC');
    expect(fs.readFile('/work/file.txt', 'utf8')).toBe('precious');
    expectRefused(fs, () => fs.appendFile('/work/file.txt', 'y'.repeat(1000)), 'ENOSPC');
    expectRefused(fs, () => fs.writeFile('/work/new.txt', 'y'.repeat(995)), 'ENOSPC');
    const fh = fs.open(fs.stat('/work/file.txt').ino, O_RDWR);
    expectRefused(fs, () => fs.write(fh, new Uint8Array(10), 990), 'ENOSPC');
    fs.release(fh);
    expectRefused(fs, () => fs.truncate('/work/file.txt', 5000), 'ENOSPC');
    // Exactly up to the quota is allowed.
    fs.writeFile('/work/fill', 'z'.repeat(1000 - fs.usage().bytes));
    expect(fs.usage().bytes).toBe(1000);
  });

  it('creating past the inode quota fails with ENOSPC', () => {
    const fs = seeded({ inodes: 5 });
    expect(fs.usage().inodes).toBe(5);
    expectRefused(fs, () => fs.writeFile('/work/one-more', ''), 'ENOSPC');
    expectRefused(fs, () => fs.mkdir('/work/a/b/c', { recursive: true }), 'ENOSPC');
    fs.unlink('/work/link');
    fs.writeFile('/work/one-more', '');
  });

  it('a quota that mkdir -p would pass midway refuses the whole call: no level is made', () => {
    const fs = seeded({ inodes: 7 });
    expectRefused(fs, () => fs.mkdir('/work/a/b/c/d', { recursive: true }), 'ENOSPC', '/work/a/b/c/d');
    expect(fs.exists('/work/a')).toBe(false);
    fs.mkdir('/work/a/b', { recursive: true });
    expect(InodeFs.restore(fs.snapshot()).readdir('/work/a')).toEqual(['b']);
  });

  it('a bad name deep in mkdir -p refuses the whole call: no level is made', () => {
    const fs = seeded();
    expectRefused(fs, () => fs.mkdir(`/work/a/b/${'n'.repeat(256)}`, { recursive: true }), 'ENAMETOOLONG');
    expect(fs.exists('/work/a')).toBe(false);
  });
});
