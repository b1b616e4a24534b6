// Answers the kernel's low-level (inode-based) FUSE requests from an InodeFs.
//
// The native side calls `dispatch(op, ino, a, b, c, s1, s2)` once per request, on the JS thread, and
// replies with what it returns: >= 0 for success (a handle, a length), a negative errno on failure.
// Attributes travel in the shared `io` array, data in the shared `rbuf`/`wbuf` buffers, directory
// listings are packed here in the kernel's own dirent format.

import { ChunkNotFetchedError, FsError, O_CREAT, O_RDWR, nameToBytes, type InodeFs, type Stats, type DirEntry } from '@vws/inode-fs';
import type { KernelCache } from './kernel-cache.js';

/** A name with a surrogate may hold escaped bytes (see @vws/inode-fs names.ts). */
const SURROGATE = /[\ud800-\udfff]/;
const NUL = Buffer.from([0]);

/** Operation codes: keep in sync with native/vws_fuse.c. */
export const OP = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, MKNOD: 6, MKDIR: 7, UNLINK: 8, RMDIR: 9,
  SYMLINK: 10, RENAME: 11, LINK: 12, OPEN: 13, READ: 14, WRITE: 15, RELEASE: 16, OPENDIR: 17,
  READDIR: 18, READDIRPLUS: 19, RELEASEDIR: 20, STATFS: 21, SETXATTR: 22, GETXATTR: 23, LISTXATTR: 24,
  REMOVEXATTR: 25, CREATE: 26, INIT: 27, ACCESS: 28, FALLOCATE: 29,
} as const;
const OP_NAMES = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;

/** io[] slots: keep in sync with native/vws_fuse.c. */
export const IO = {
  INO: 0, MODE: 1, NLINK: 2, UID: 3, GID: 4, RDEV: 5, SIZE: 6, BLOCKS: 7, ATIME: 8, ATIME_NS: 9,
  MTIME: 10, MTIME_NS: 11, CTIME: 12, CTIME_NS: 13, GEN: 14, BLKSIZE: 15,
  SET_MASK: 16, SET_MODE: 17, SET_UID: 18, SET_GID: 19, SET_SIZE: 20, SET_ATIME: 21, SET_ATIME_NS: 22,
  SET_MTIME: 23, SET_MTIME_NS: 24, FLAGS: 25,
  CALLER_UID: 28, CALLER_GID: 29, CALLER_PID: 30,
  ENTRY_TIMEOUT: 32, ATTR_TIMEOUT: 33, NEG_TIMEOUT: 34, SPIN_US: 35, DEFER_ID: 36,
  LENGTH: 40,
} as const;

// FUSE_SET_ATTR_* bits.
const SET_MODE = 1, SET_UID = 2, SET_GID = 4, SET_SIZE = 8, SET_ATIME = 16, SET_MTIME = 32, SET_ATIME_NOW = 128, SET_MTIME_NOW = 256;
const S_ISUID = 0o4000, S_ISGID = 0o2000, S_IXGRP = 0o010, S_IXUGO = 0o111;
const X_OK = 1;
const O_APPEND = 0o2000;
const EIO = 5, ENOENT = 2, ENOTDIR = 20, EBADF = 9, EACCES = 13;
const NS = 1_000_000_000n;

export interface CacheTimeouts {
  /** Seconds the kernel may keep names and attributes (API changes are invalidated explicitly). */
  entry: number;
  attr: number;
  /** Seconds a miss may be remembered (0: never). */
  negative: number;
}

export interface ServeOptions extends CacheTimeouts {
  /** Microseconds to keep polling for the next request before the serving thread sleeps. */
  spinUs: number;
}

/** Brackets each request's serving (see RequestHandler.gate). */
export interface RequestGate {
  enter(): void;
  leave(): void;
}

/** What dispatch returns for a request answered later (keep in sync with native/vws_fuse.c). */
export const DEFERRED = -1_000_000;

/** Requests per operation (benchmarks and tests read it to count round trips). */
export type OpCounter = Map<string, number>;

function errnoOf(e: unknown): number {
  if (e instanceof FsError) return -e.errno;
  console.error('vws fuse: unexpected error', e);
  return -EIO;
}

/** Writes a u64 (a safe integer) little-endian. */
function u64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n >>> 0, true);
  view.setUint32(at + 4, Math.floor(n / 2 ** 32) >>> 0, true);
}

export class RequestHandler {
  readonly io = new Float64Array(IO.LENGTH);
  readonly rbuf: Buffer;
  readonly wbuf: Buffer;
  private readonly view: DataView;
  private readonly dirs = new Map<number, DirEntry[] | null>();
  private nextDir = 1;
  /** True while a kernel request is being answered: the engine's events then need no invalidation. */
  serving = false;
  /** Answers a deferred request (set by serve.ts once the session exists). */
  replyDeferred: ((id: number, result: number, data?: Buffer) => boolean) | null = null;

  /**
   * Entered before each request is served and left after (the serving thread's: it applies the
   * writes its host has already reported done first; see RequestGate).
   */
  gate: RequestGate | null = null;
  private nextDeferred = 1;

  constructor(
    private readonly fs: InodeFs,
    private readonly cache: KernelCache,
    private readonly timeouts: ServeOptions,
    bufferSize: number,
    private readonly counter?: OpCounter,
  ) {
    this.rbuf = Buffer.alloc(bufferSize);
    this.wbuf = Buffer.alloc(bufferSize);
    this.view = new DataView(this.rbuf.buffer, this.rbuf.byteOffset, this.rbuf.byteLength);
    this.io[IO.ENTRY_TIMEOUT] = timeouts.entry;
    this.io[IO.ATTR_TIMEOUT] = timeouts.attr;
    this.io[IO.NEG_TIMEOUT] = timeouts.negative;
    this.io[IO.SPIN_US] = timeouts.spinUs;
  }

  /** The one entry point the native side calls. */
  readonly dispatch = (op: number, ino: number, a: number, b: number, c: number, s1?: string, s2?: string): number | string => {
    if (this.counter) this.counter.set(OP_NAMES[op], (this.counter.get(OP_NAMES[op]) ?? 0) + 1);
    // Before `serving`: what the gate applies is an API change the kernel must hear about.
    this.gate?.enter();
    this.serving = true;
    // Errors here are answers (ENOENT for a miss, ENODATA for an absent xattr), thrown by the
    // thousand: their stack traces would cost more than the whole request.
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.handle(op, ino, a, b, c, s1, s2);
    } catch (e) {
      return errnoOf(e);
    } finally {
      Error.stackTraceLimit = stackLimit;
      this.serving = false;
      this.gate?.leave();
    }
  };

  private handle(op: number, ino: number, a: number, b: number, c: number, s1?: string, s2?: string): number | string {
    const fs = this.fs;
    switch (op) {
      case OP.LOOKUP:
        return this.lookup(ino, s1!);
      case OP.FORGET:
        this.cache.forget(ino, a);
        return 0;
      case OP.GETATTR:
        // By inode, also for an open handle: the engine keeps unlinked open inodes in its table.
        this.putStats(fs.getattr(ino));
        return 0;
      case OP.SETATTR:
        try {
          return this.setattr(ino, this.io);
        } catch (e) {
          if (!(e instanceof ChunkNotFetchedError) || !this.replyDeferred) throw e;
          const request = Float64Array.from(this.io); // the next request overwrites io
          return this.defer(e, ino, () => [this.setattr(ino, request)]);
        }
      case OP.READLINK:
        return fs.readlinkIno(ino);
      case OP.MKNOD: {
        const parent = fs.getattr(ino);
        return this.entry(this.owned(parent, fs.mknod(ino, s1!, a, b)), ino, s1!);
      }
      case OP.MKDIR: {
        // Directories made in a set-group-ID directory are set-group-ID too.
        const parent = fs.getattr(ino);
        return this.entry(this.owned(parent, fs.mkdirAt(ino, s1!, parent.mode & S_ISGID ? a | S_ISGID : a)), ino, s1!);
      }
      case OP.UNLINK:
        fs.unlinkAt(ino, s1!);
        return 0;
      case OP.RMDIR:
        fs.rmdirAt(ino, s1!);
        return 0;
      case OP.SYMLINK:
        return this.entry(this.owned(fs.getattr(ino), fs.symlinkAt(ino, s1!, s2!)), ino, s1!);
      case OP.RENAME:
        fs.renameAt(ino, s1!, a, s2!, b);
        return 0;
      case OP.LINK:
        return this.entry(fs.linkAt(ino, a, s1!), a, s1!);
      case OP.CREATE: {
        // Files are read and written by inode (the kernel sends no open/release for them; its
        // references keep an unlinked file alive), so the engine handle is not kept.
        const { stats, fh } = fs.create(ino, s1!, a, O_RDWR | O_CREAT);
        fs.release(fh);
        this.entry(this.owned(fs.getattr(ino), stats), ino, s1!);
        return 0;
      }
      case OP.READ:
        try {
          return fs.readIno(ino, this.rbuf.subarray(0, b), c);
        } catch (e) {
          if (!(e instanceof ChunkNotFetchedError) || !this.replyDeferred) throw e;
          const out = Buffer.allocUnsafe(b);
          return this.defer(e, ino, () => [fs.readIno(ino, out, c), out]);
        }
      case OP.WRITE:
        try {
          return this.write(ino, this.wbuf.subarray(0, b), c);
        } catch (e) {
          if (!(e instanceof ChunkNotFetchedError) || !this.replyDeferred) throw e;
          // The shared buffer is the next request's: keep a copy of the data and the flags.
          const data = Buffer.from(this.wbuf.subarray(0, b));
          const flags = this.io[IO.FLAGS];
          const caller = this.io[IO.CALLER_UID];
          return this.defer(e, ino, () => [this.write(ino, data, c, flags, caller)]);
        }
      case OP.RELEASE:
        return 0;
      case OP.ACCESS:
        return this.access(ino, a);
      case OP.FALLOCATE:
        try {
          fs.fallocate(ino, a, b, c);
          return 0;
        } catch (e) {
          if (!(e instanceof ChunkNotFetchedError) || !this.replyDeferred) throw e;
          return this.defer(e, ino, () => [(fs.fallocate(ino, a, b, c), 0)]);
        }
      case OP.OPENDIR: {
        if (!fs.getattr(ino).isDirectory()) return -ENOTDIR;
        const fh = this.nextDir++;
        this.dirs.set(fh, null);
        return fh;
      }
      case OP.READDIR:
      case OP.READDIRPLUS:
        return this.readdir(ino, a, b, c, op === OP.READDIRPLUS);
      case OP.RELEASEDIR:
        this.dirs.delete(a);
        return 0;
      case OP.STATFS: {
        const s = fs.statfs();
        const io = this.io;
        io[0] = s.bsize;
        io[1] = s.frsize;
        io[2] = s.blocks;
        io[3] = s.bfree;
        io[4] = s.bavail;
        io[5] = s.files;
        io[6] = s.ffree;
        io[7] = s.ffree;
        io[8] = s.namemax;
        return 0;
      }
      case OP.SETXATTR:
        fs.setxattr(ino, s1!, this.wbuf.subarray(0, a), b);
        return 0;
      case OP.GETXATTR:
        return this.putBytes(fs.getxattr(ino, s1!));
      case OP.LISTXATTR:
        return this.putBytes(Buffer.concat(fs.listxattr(ino).flatMap((n) => [nameToBytes(n), NUL])));
      case OP.REMOVEXATTR:
        fs.removexattr(ino, s1!);
        return 0;
      case OP.INIT:
        return 0;
      default:
        return -38; // ENOSYS
    }
  }

  private lookup(parent: number, name: string): number {
    try {
      const st = this.fs.lookup(parent, name);
      // '.' and '..' (asked for by NFS-style exports only) count as references but name nothing new.
      this.cache.remember(st.ino, name === '.' || name === '..' ? undefined : parent, name);
      this.putStats(st);
      return 0;
    } catch (e) {
      if (e instanceof FsError && e.errno === ENOENT) {
        this.io[IO.NEG_TIMEOUT] = this.timeouts.negative > 0 && this.cache.rememberMissing(parent, name) ? this.timeouts.negative : 0;
      }
      throw e;
    }
  }

  /**
   * A read, write, truncate or fallocate that needs chunks not fetched yet (a tree opened lazily
   * from a store): parked by the native side while they are fetched, then run again and answered;
   * other requests are served meanwhile. A fetch that fails (a damaged chunk, the store gone)
   * answers EIO.
   */
  private defer(miss: ChunkNotFetchedError, ino: number, run: () => [number, Buffer?]): number {
    const id = this.nextDeferred++;
    this.io[IO.DEFER_ID] = id;
    const reply = this.replyDeferred!;
    const attempt = async (e: ChunkNotFetchedError, left: number): Promise<void> => {
      await e.fetch();
      this.gate?.enter();
      this.serving = true; // as in dispatch: the kernel knows about its own request
      try {
        reply(id, ...run());
      } catch (again) {
        if (again instanceof ChunkNotFetchedError && left > 0) return attempt(again, left - 1);
        throw again;
      } finally {
        this.serving = false;
        this.gate?.leave();
      }
    };
    attempt(miss, 8).catch((e) => {
      if (!(e instanceof FsError)) console.error(`vws fuse: a request on inode ${ino} failed while fetching its chunks: ${(e as Error)?.message ?? e}`);
      reply(id, e instanceof FsError ? -e.errno : -EIO);
    });
    return DEFERRED;
  }

  /** Records an entry reply and fills io with its attributes. */
  private entry(st: Stats, parent: number, name: string): number {
    this.cache.remember(st.ino, parent, name);
    this.putStats(st);
    return 0;
  }

  /** New nodes belong to the caller (its uid, and its gid unless the directory is set-group-ID). */
  private owned(parent: Stats, st: Stats): Stats {
    const uid = this.io[IO.CALLER_UID];
    const gid = parent.mode & S_ISGID ? parent.gid : this.io[IO.CALLER_GID];
    if (st.uid === uid && st.gid === gid) return st;
    return this.fs.setattr(st.ino, { uid, gid });
  }

  /**
   * Writes at the kernel's offset. An O_APPEND write goes to the engine's end of file, which may lie
   * past what the kernel believes (an API append meanwhile): the kernel's page cache for the file is
   * then dropped. Writes by others than root clear set-user-ID and set-group-ID (with group exec).
   */
  private write(ino: number, data: Uint8Array, off: number, flags = this.io[IO.FLAGS], caller = this.io[IO.CALLER_UID]): number {
    const fs = this.fs;
    const append = (flags & O_APPEND) !== 0;
    let n: number;
    if (append) {
      const end = fs.getattr(ino).size;
      n = fs.writeIno(ino, data, end);
      if (end !== off) this.cache.invalidateLater(ino);
    } else {
      n = fs.writeIno(ino, data, off);
    }
    if (caller !== 0) this.killPriv(ino);
    return n;
  }

  /** Clears set-user-ID, and set-group-ID when group-executable (what Linux does on write/chown). */
  private killPriv(ino: number): void {
    const st = this.fs.getattr(ino);
    if (st.isDirectory()) return;
    const mode = st.mode & 0o7777;
    let next = mode & ~S_ISUID;
    if (mode & S_IXGRP) next &= ~S_ISGID;
    if (next !== mode) this.fs.setattr(ino, { mode: next });
  }

  /** access(2) when the kernel does not check modes itself (a root-only mount): X_OK needs an x bit. */
  private access(ino: number, mask: number): number {
    const st = this.fs.getattr(ino);
    if (mask & X_OK && !st.isDirectory() && (st.mode & S_IXUGO) === 0) return -EACCES;
    return 0;
  }

  /** `io`: the request's arguments (this.io, or a copy kept for a deferred request); Stats go to this.io. */
  private setattr(ino: number, io: Float64Array): number {
    const mask = io[IO.SET_MASK];
    const time = (s: number, ns: number) => BigInt(s) * NS + BigInt(ns);
    const st = this.fs.setattr(ino, {
      mode: mask & SET_MODE ? io[IO.SET_MODE] : undefined,
      uid: mask & SET_UID ? io[IO.SET_UID] : undefined,
      gid: mask & SET_GID ? io[IO.SET_GID] : undefined,
      size: mask & SET_SIZE ? io[IO.SET_SIZE] : undefined,
      atimeNs: mask & SET_ATIME_NOW ? 'now' : mask & SET_ATIME ? time(io[IO.SET_ATIME], io[IO.SET_ATIME_NS]) : undefined,
      mtimeNs: mask & SET_MTIME_NOW ? 'now' : mask & SET_MTIME ? time(io[IO.SET_MTIME], io[IO.SET_MTIME_NS]) : undefined,
    });
    // We handle killpriv (the kernel does not refresh attributes to do it): chown always, truncate by
    // others than root, unless the same request sets the mode.
    const chown = mask & (SET_UID | SET_GID);
    if (!(mask & SET_MODE) && (chown || (mask & SET_SIZE && io[IO.CALLER_UID] !== 0))) {
      this.killPriv(ino);
      this.putStats(this.fs.getattr(ino));
      return 0;
    }
    this.putStats(st);
    return 0;
  }

  private putBytes(bytes: Uint8Array): number {
    if (bytes.length > this.rbuf.length) return -34; // ERANGE
    this.rbuf.set(bytes, 0);
    return bytes.length;
  }

  putStats(st: Stats): void {
    const io = this.io;
    io[IO.INO] = st.ino;
    io[IO.MODE] = st.mode;
    io[IO.NLINK] = st.nlink;
    io[IO.UID] = st.uid;
    io[IO.GID] = st.gid;
    io[IO.RDEV] = st.rdev;
    io[IO.SIZE] = st.size;
    io[IO.BLOCKS] = st.blocks;
    io[IO.BLKSIZE] = st.blksize;
    const a = st.atimeNs / NS, m = st.mtimeNs / NS, c = st.ctimeNs / NS;
    io[IO.ATIME] = Number(a);
    io[IO.ATIME_NS] = Number(st.atimeNs - a * NS);
    io[IO.MTIME] = Number(m);
    io[IO.MTIME_NS] = Number(st.mtimeNs - m * NS);
    io[IO.CTIME] = Number(c);
    io[IO.CTIME_NS] = Number(st.ctimeNs - c * NS);
    io[IO.GEN] = generation(st);
  }

  /**
   * Packs entries from `off` into rbuf in the kernel's dirent (or direntplus) format; returns bytes.
   * The listing is taken once per open directory stream (and again on rewind), so entries removed
   * while someone iterates (rm -rf) neither shift offsets nor make others skipped.
   */
  private readdir(ino: number, fh: number, size: number, off: number, plus: boolean): number {
    if (!this.dirs.has(fh)) return -EBADF;
    let list = this.dirs.get(fh)!;
    if (list === null || off === 0) {
      list = this.fs.readdirIno(ino);
      this.dirs.set(fh, list);
    }
    const view = this.view;
    const buf = this.rbuf;
    const total = list.length + 2;
    let pos = 0;
    for (let i = off; i < total; i++) {
      let name: string, child: number, type: number;
      if (i < 2) {
        name = i === 0 ? '.' : '..';
        child = ino;
        type = 4; // DT_DIR
      } else {
        const e = list[i - 2];
        name = e.name;
        child = e.ino;
        type = DT[e.kind] ?? 0;
      }
      // Names are bytes: one with escaped (non-UTF-8) bytes is written as those bytes.
      const raw = SURROGATE.test(name) ? nameToBytes(name) : undefined;
      const nameLen = raw ? raw.length : Buffer.byteLength(name);
      const direntLen = (24 + nameLen + 7) & ~7;
      const entryLen = plus ? 128 + direntLen : direntLen;
      if (pos + entryLen > size) break;
      let at = pos;
      if (plus) {
        buf.fill(0, at, at + 128);
        // Entries the kernel already holds need no attributes (it keeps its own, kept true by our
        // invalidations): a zero node id makes it skip them, which is most of a listing's cost.
        if (i >= 2 && !this.cache.knows(child)) {
          let st: Stats | undefined;
          try {
            st = this.fs.getattr(child);
          } catch {
            st = undefined; // removed since the listing was taken: a plain entry, not cached
          }
          if (st) {
            this.cache.remember(child, ino, name);
            u64(view, at, st.ino);
            u64(view, at + 8, generation(st));
            u64(view, at + 16, Math.floor(this.timeouts.entry));
            u64(view, at + 24, Math.floor(this.timeouts.attr));
            view.setUint32(at + 32, Math.round((this.timeouts.entry % 1) * 1e9), true);
            view.setUint32(at + 36, Math.round((this.timeouts.attr % 1) * 1e9), true);
            this.packAttr(at + 40, st);
          }
        }
        at += 128;
      }
      u64(view, at, child);
      u64(view, at + 8, i + 1);
      view.setUint32(at + 16, nameLen, true);
      view.setUint32(at + 20, type, true);
      if (raw) buf.set(raw, at + 24);
      else buf.write(name, at + 24, nameLen, 'utf8');
      buf.fill(0, at + 24 + nameLen, pos + entryLen);
      pos += entryLen;
    }
    return pos;
  }

  /** struct fuse_attr (88 bytes). */
  private packAttr(at: number, st: Stats): void {
    const v = this.view;
    const a = st.atimeNs / NS, m = st.mtimeNs / NS, c = st.ctimeNs / NS;
    u64(v, at, st.ino);
    u64(v, at + 8, st.size);
    u64(v, at + 16, st.blocks);
    u64(v, at + 24, Number(a));
    u64(v, at + 32, Number(m));
    u64(v, at + 40, Number(c));
    v.setUint32(at + 48, Number(st.atimeNs - a * NS), true);
    v.setUint32(at + 52, Number(st.mtimeNs - m * NS), true);
    v.setUint32(at + 56, Number(st.ctimeNs - c * NS), true);
    v.setUint32(at + 60, st.mode, true);
    v.setUint32(at + 64, st.nlink, true);
    v.setUint32(at + 68, st.uid, true);
    v.setUint32(at + 72, st.gid, true);
    v.setUint32(at + 76, st.rdev, true);
    v.setUint32(at + 80, st.blksize, true);
    v.setUint32(at + 84, 0, true);
  }
}

const DT: Record<string, number> = { file: 8, directory: 4, symlink: 10, fifo: 1, socket: 12, chardev: 2, blockdev: 6 };

/** Tells a reused inode number (after a checkpoint restore) from the inode the kernel knew. */
function generation(st: Stats): number {
  return Number(st.birthtimeNs % 2n ** 52n);
}
