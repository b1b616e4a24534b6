// Our own POSIX conformance checks, run by python3 against the mount: permissions, ownership,
// timestamps, rename and link corner cases, error codes. Each check prints one JSON result.

import { InodeFs } from '@vws/inode-fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { ok } from './helpers.js';

let m: Mount;
let fs: InodeFs;
beforeAll(async () => {
  fs = new InodeFs();
  // allow_other, so that the permission checks can run as another user (the kernel enforces modes).
  m = await mount(fs, undefined, { allowOther: true });
});
afterAll(async () => {
  await m?.unmount();
});

const SCRIPT = String.raw`
import errno, json, os, stat, subprocess, time
os.chdir(os.environ['M'])
results = {}
def check(name, fn):
    try:
        got = fn()
        results[name] = 'ok' if got is True else 'got %r' % (got,)
    except Exception as e:
        results[name] = 'raised %r' % (e,)
def err(fn):
    try:
        fn()
        return 'no error'
    except OSError as e:
        return errno.errorcode[e.errno]

os.mkdir('p'); os.chdir('p')
open('f', 'w').write('x')

# permissions
os.chmod('f', 0o640)
check('chmod sets the permission bits', lambda: stat.S_IMODE(os.stat('f').st_mode) == 0o640)
os.chmod('f', 0o4755)
check('setuid bit is stored', lambda: stat.S_IMODE(os.stat('f').st_mode) == 0o4755)
open('secret', 'w').write('s'); os.chmod('secret', 0o600)
def as_nobody(cmd):
    return subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], capture_output=True, text=True)
check('an other user cannot read a 0600 file (kernel enforces modes)', lambda: 'Permission denied' in as_nobody('cat secret').stderr)
os.chmod('secret', 0o644)
check('and can once it is 0644', lambda: as_nobody('cat secret').stdout == 's')
open('run.sh', 'w').write('#!/bin/sh\necho ran\n')
check('a file without x bits cannot be executed', lambda: err(lambda: subprocess.run(['./run.sh'])) == 'EACCES')
os.chmod('run.sh', 0o755)
check('chmod +x makes it executable', lambda: subprocess.run(['./run.sh'], capture_output=True, text=True).stdout == 'ran\n')

# ownership
os.chown('f', 1234, 5678)
check('chown sets uid and gid', lambda: (os.stat('f').st_uid, os.stat('f').st_gid) == (1234, 5678))
os.chown('f', -1, 42)
check('chown -1 keeps the uid', lambda: (os.stat('f').st_uid, os.stat('f').st_gid) == (1234, 42))

# timestamps
os.utime('f', ns=(1_500_000_000_123_000_000, 1_600_000_000_456_000_000))
check('utime sets atime and mtime (ms precision)', lambda: (os.stat('f').st_atime_ns, os.stat('f').st_mtime_ns) == (1_500_000_000_123_000_000, 1_600_000_000_456_000_000))
before = os.stat('f')
time.sleep(0.005)
with open('f', 'a') as h: h.write('y')
after = os.stat('f')
check('a write advances mtime and ctime', lambda: after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns)
time.sleep(0.005)
os.chmod('f', 0o644)
check('chmod advances ctime, not mtime', lambda: os.stat('f').st_ctime_ns > after.st_ctime_ns and os.stat('f').st_mtime_ns == after.st_mtime_ns)
d0 = os.stat('.').st_mtime_ns
time.sleep(0.005)
open('g', 'w').close()
check('creating an entry advances the directory mtime', lambda: os.stat('.').st_mtime_ns > d0)

# rename corner cases
os.makedirs('r/a/b'); os.makedirs('r/empty'); os.makedirs('r/full/x'); open('r/file', 'w').close()
check('rename a dir into its own subtree: EINVAL', lambda: err(lambda: os.rename('r/a', 'r/a/b/c')) == 'EINVAL')
check('rename a dir over a non-empty dir: ENOTEMPTY', lambda: err(lambda: os.rename('r/a', 'r/full')) in ('ENOTEMPTY', 'EEXIST'))
check('rename a file over a dir: EISDIR', lambda: err(lambda: os.rename('r/file', 'r/empty')) == 'EISDIR')
check('rename a dir over a file: ENOTDIR', lambda: err(lambda: os.rename('r/empty', 'r/file')) == 'ENOTDIR')
os.rename('r/a', 'r/empty')
check('rename a dir over an empty dir replaces it', lambda: os.path.isdir('r/empty/b') and not os.path.exists('r/a'))
os.link('r/file', 'r/file2')
os.rename('r/file', 'r/file2')
check('rename onto another link of the same file keeps both', lambda: os.path.exists('r/file') and os.stat('r/file').st_nlink == 2)

# link corner cases
check('link to a directory: EPERM', lambda: err(lambda: os.link('r', 'rlink')) == 'EPERM')
check('link onto an existing name: EEXIST', lambda: err(lambda: os.link('f', 'g')) == 'EEXIST')
os.link('f', 'f-hard')
check('hard links share the inode and count', lambda: os.stat('f').st_ino == os.stat('f-hard').st_ino and os.stat('f').st_nlink == 2)
os.unlink('f-hard')
check('unlink drops the count', lambda: os.stat('f').st_nlink == 1)
os.symlink('loop2', 'loop1'); os.symlink('loop1', 'loop2')
check('symlink loop: ELOOP', lambda: err(lambda: open('loop1')) == 'ELOOP')
os.symlink('f', 'sym')
check('readlink returns the target', lambda: os.readlink('sym') == 'f')
check('lstat sees the link, stat the target', lambda: stat.S_ISLNK(os.lstat('sym').st_mode) and stat.S_ISREG(os.stat('sym').st_mode))

# error codes
check('ENOENT', lambda: err(lambda: os.stat('nope')) == 'ENOENT')
check('EEXIST on mkdir', lambda: err(lambda: os.mkdir('r')) == 'EEXIST')
check('EEXIST on O_EXCL', lambda: err(lambda: os.open('f', os.O_CREAT | os.O_EXCL | os.O_WRONLY)) == 'EEXIST')
check('ENOTDIR', lambda: err(lambda: os.listdir('f')) == 'ENOTDIR')
check('EISDIR on opening a dir for writing', lambda: err(lambda: open('r', 'w')) == 'EISDIR')
check('ENOTEMPTY on rmdir', lambda: err(lambda: os.rmdir('r')) == 'ENOTEMPTY')
check('ENAMETOOLONG', lambda: err(lambda: open('n' * 256, 'w')) == 'ENAMETOOLONG')
check('ENODATA for a missing xattr', lambda: err(lambda: os.getxattr('f', 'user.none')) == 'ENODATA')
os.setxattr('f', 'user.k', b'v')
check('xattrs round-trip', lambda: os.getxattr('f', 'user.k') == b'v' and 'user.k' in os.listxattr('f'))
os.removexattr('f', 'user.k')
check('removexattr', lambda: 'user.k' not in os.listxattr('f'))
fd = os.open('t', os.O_CREAT | os.O_RDWR)
os.write(fd, b'abcdef'); os.ftruncate(fd, 2); os.ftruncate(fd, 5)
check('ftruncate down then up reads zeros', lambda: os.pread(fd, 10, 0) == b'ab\x00\x00\x00')
os.close(fd)
check('statvfs reports name max 255', lambda: os.statvfs('.').f_namemax == 255)
print(json.dumps(results))
`;

it('passes every POSIX check of our own on the mount', async () => {
  const out = await ok(`python3 - <<'PY'\n${SCRIPT}\nPY`, { M: m.path });
  const results = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, string>;
  const failed = Object.entries(results).filter(([, v]) => v !== 'ok');
  expect(failed).toEqual([]);
  expect(Object.keys(results).length).toBe(37);
  // The engine saw the same things the programs did.
  expect(fs.stat('/p/f').uid).toBe(1234);
  expect(fs.readlink('/p/sym')).toBe('f');
});
