// Inodes, their kinds and the Stats view handed to callers.

import type { Content } from './content.js';
import type { PMap } from './hamt.js';
import { byteLength } from './names.js';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export type Kind = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

export function kindOf(mode: number): Kind {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
      return 'chardev';
    case S_IFBLK:
      return 'blockdev';
    default:
      return 'file';
  }
}

/** One hard link of an inode: the directory holding it and the name there. */
export type Link = readonly [parent: number, name: string];

export class Inode {
  constructor(
    public owner: number,
    public readonly ino: number,
    public mode: number,
    public uid: number,
    public gid: number,
    public nlink: number,
    public rdev: number,
    public atime: bigint,
    public mtime: bigint,
    public ctime: bigint,
    public btime: bigint,
    /** Extended attributes, copied whole on clone (they are few and small). */
    public xattrs: Map<string, Uint8Array> | null,
    public content: Content | null,
    public entries: PMap<number> | null,
    public target: string | null,
    /** Every (parent, name) that names this inode: lets diff and getattr-by-path rebuild paths. */
    public links: Link[],
    /** Sorted entry names, cached for readdir; dropped whenever the entries change. Never mutated. */
    public listing: string[] | null = null,
  ) {}

  get kind(): Kind {
    return kindOf(this.mode);
  }

  get isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }

  get size(): number {
    if (this.content) return this.content.size;
    if (this.target !== null) return byteLength(this.target);
    if (this.entries) return 4096;
    return 0;
  }

  clone(owner: number): Inode {
    return new Inode(
      owner,
      this.ino,
      this.mode,
      this.uid,
      this.gid,
      this.nlink,
      this.rdev,
      this.atime,
      this.mtime,
      this.ctime,
      this.btime,
      this.xattrs ? new Map(this.xattrs) : null,
      this.content,
      this.entries,
      this.target,
      this.links.slice(),
      this.listing,
    );
  }
}

const NS_PER_MS = 1_000_000n;

/** A point-in-time view of an inode, shaped like node's fs.Stats with nanosecond times. */
export class Stats {
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blocks: number;
  readonly blksize = 4096;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly birthtimeNs: bigint;
  readonly kind: Kind;

  constructor(inode: Inode) {
    this.ino = inode.ino;
    this.mode = inode.mode;
    this.nlink = inode.nlink;
    this.uid = inode.uid;
    this.gid = inode.gid;
    this.rdev = inode.rdev;
    this.size = inode.size;
    const allocated = inode.content ? inode.content.allocated : inode.entries ? 4096 : 0;
    this.blocks = Math.ceil(allocated / 512);
    this.atimeNs = inode.atime;
    this.mtimeNs = inode.mtime;
    this.ctimeNs = inode.ctime;
    this.birthtimeNs = inode.btime;
    this.kind = inode.kind;
  }

  get atimeMs(): number {
    return Number(this.atimeNs / NS_PER_MS) + Number(this.atimeNs % NS_PER_MS) / 1e6;
  }
  get mtimeMs(): number {
    return Number(this.mtimeNs / NS_PER_MS) + Number(this.mtimeNs % NS_PER_MS) / 1e6;
  }
  get ctimeMs(): number {
    return Number(this.ctimeNs / NS_PER_MS) + Number(this.ctimeNs % NS_PER_MS) / 1e6;
  }
  get birthtimeMs(): number {
    return Number(this.birthtimeNs / NS_PER_MS) + Number(this.birthtimeNs % NS_PER_MS) / 1e6;
  }
  isFile(): boolean {
    return this.kind === 'file';
  }
  isDirectory(): boolean {
    return this.kind === 'directory';
  }
  isSymbolicLink(): boolean {
    return this.kind === 'symlink';
  }
}

export interface DirEntry {
  name: string;
  ino: number;
  kind: Kind;
}
