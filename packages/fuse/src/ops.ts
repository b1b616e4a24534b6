// FUSE operations over an InodeFs. Every handler answers synchronously from the engine (which is
// in memory) and replies with a negative errno on failure: fuse-native crashes on Error objects.

import { FsError, O_CREAT, O_RDWR, type InodeFs, type Stats } from '@vws/inode-fs';
import type { FuseOps } from './driver.js';

const EIO = -5;
const ENOENT = -2;
const ENODATA = -61;
const NS_PER_MS = 1_000_000n;
/** Sentinels our fuse-native patch sends for UTIME_NOW and UTIME_OMIT (in ms). */
const UTIME_NOW_MS = 2 ** 50;
const UTIME_OMIT_MS = 2 ** 50 + 1;

/** The errno to answer with, for anything thrown (unexpected errors are logged: they are bugs). */
function errnoOf(e: unknown): number {
  if (e instanceof FsError) return -e.errno;
  console.error('vws fuse: unexpected error', e);
  return EIO;
}

function toStat(st: Stats) {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    dev: 0,
    nlink: st.nlink,
    ino: st.ino,
    rdev: st.rdev,
    blksize: st.blksize,
    blocks: st.blocks,
    atime: Number(st.atimeNs / NS_PER_MS),
    mtime: Number(st.mtimeNs / NS_PER_MS),
    ctime: Number(st.ctimeNs / NS_PER_MS),
  };
}

function split(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}

function timeArg(ms: number): bigint | 'now' | undefined {
  if (ms === UTIME_OMIT_MS) return undefined;
  if (ms === UTIME_NOW_MS) return 'now';
  return BigInt(Math.round(ms)) * NS_PER_MS;
}

/** Counts requests per operation: the benchmark and tests read it to see round trips. */
export type OpCounter = Map<string, number>;

export function makeOps(fs: InodeFs, counter?: OpCounter): FuseOps {
  // Wraps a handler so any throw becomes an errno reply, never an exception into the native side.
  const guard =
    (name: string, fn: (...args: any[]) => unknown[] | void) =>
    (...args: any[]) => {
      const cb = args[args.length - 1] as (...r: unknown[]) => void;
      if (counter) counter.set(name, (counter.get(name) ?? 0) + 1);
      let result: unknown[] | void;
      try {
        result = fn(...args.slice(0, -1));
      } catch (e) {
        return cb(errnoOf(e));
      }
      cb(0, ...(result ?? []));
    };

  return {
    statfs: guard('statfs', () => {
      const s = fs.statfs();
      return [{ ...s, favail: s.ffree, fsid: 0, flag: 0 }];
    }),
    getattr: guard('getattr', (path?: string) => {
      if (typeof path !== 'string') throw new FsError('ENOENT', 'getattr');
      return [toStat(fs.lstat(path))];
    }),
    fgetattr: guard('fgetattr', (path: string, fh: number) => [toStat(fh ? fs.fstat(fh) : fs.lstat(path))]),
    access: guard('access', (path: string) => {
      fs.lstat(path);
    }),
    readdir: guard('readdir', (path: string) => {
      const names = ['.', '..'];
      for (const e of fs.readdirIno(fs.inoOf(path))) names.push(e.name);
      return [names];
    }),
    open: guard('open', (path: string, flags: number) => [fs.open(fs.inoOf(path, false), flags)]),
    create: guard('create', (path: string, mode: number, flags: number) => {
      const { parent, name } = split(path);
      const { fh } = fs.create(fs.inoOf(parent), name, mode, (flags || O_RDWR) | O_CREAT);
      return [fh];
    }),
    read: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      counter?.set('read', (counter.get('read') ?? 0) + 1);
      try {
        cb(fs.readInto(fh, buf.subarray(0, len), pos));
      } catch (e) {
        cb(errnoOf(e));
      }
    },
    write: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      counter?.set('write', (counter.get('write') ?? 0) + 1);
      try {
        cb(fs.write(fh, buf.subarray(0, len), pos));
      } catch (e) {
        cb(errnoOf(e));
      }
    },
    flush: guard('flush', () => {}),
    fsync: guard('fsync', (_path: string, _datasync: number, fh: number) => {
      if (fh) fs.fsync(fh);
    }),
    fsyncdir: guard('fsyncdir', () => {}),
    release: guard('release', (_path: string, fh: number) => {
      fs.release(fh);
    }),
    releasedir: guard('releasedir', () => {}),
    truncate: guard('truncate', (path: string, size: number) => {
      fs.truncate(path, size);
    }),
    ftruncate: guard('ftruncate', (path: string, _fh: number, size: number) => {
      fs.truncate(path, size);
    }),
    utimens: guard('utimens', (path: string, atime: number, mtime: number) => {
      fs.setattr(fs.inoOf(path, false), { atimeNs: timeArg(atime), mtimeNs: timeArg(mtime) });
    }),
    chmod: guard('chmod', (path: string, mode: number) => {
      fs.setattr(fs.inoOf(path, false), { mode });
    }),
    chown: guard('chown', (path: string, uid: number, gid: number) => {
      // (uid_t)-1 means "leave unchanged"; it arrives as 2^32 - 1.
      fs.setattr(fs.inoOf(path, false), { uid: uid === 0xffffffff ? undefined : uid, gid: gid === 0xffffffff ? undefined : gid });
    }),
    mknod: guard('mknod', (path: string, mode: number, dev: number) => {
      const { parent, name } = split(path);
      fs.mknod(fs.inoOf(parent), name, mode, dev);
    }),
    mkdir: guard('mkdir', (path: string, mode: number) => {
      const { parent, name } = split(path);
      fs.mkdirAt(fs.inoOf(parent), name, mode);
    }),
    unlink: guard('unlink', (path: string) => {
      fs.unlink(path);
    }),
    rmdir: guard('rmdir', (path: string) => {
      fs.rmdir(path);
    }),
    rename: guard('rename', (from: string, to: string) => {
      fs.rename(from, to);
    }),
    link: guard('link', (from: string, to: string) => {
      fs.link(from, to);
    }),
    symlink: guard('symlink', (target: string, path: string) => {
      fs.symlink(target, path);
    }),
    readlink: guard('readlink', (path: string) => [fs.readlink(path)]),
    setxattr: guard('setxattr', (path: string, name: string, value: Buffer, _position: number, flags: number) => {
      fs.setxattr(fs.inoOf(path, false), name, new Uint8Array(value), flags);
    }),
    getxattr: (path: string, name: string, _position: number, cb: (err: number, value?: Buffer) => void) => {
      counter?.set('getxattr', (counter.get('getxattr') ?? 0) + 1);
      try {
        cb(0, Buffer.from(fs.getxattr(fs.inoOf(path, false), name)));
      } catch (e) {
        const code = errnoOf(e);
        cb(code === ENOENT && typeof path !== 'string' ? ENODATA : code);
      }
    },
    listxattr: guard('listxattr', (path: string) => [fs.listxattr(fs.inoOf(path, false))]),
    removexattr: guard('removexattr', (path: string, name: string) => {
      fs.removexattr(fs.inoOf(path, false), name);
    }),
  };
}
