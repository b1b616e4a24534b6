// The engine: an inode table in persistent structures, with a path API for tools and an inode API
// for the FUSE bridge. Every mutation copies only what another epoch still shares (see hamt.ts).

import { Content } from './content.js';
import { FsError, type ErrorCode } from './errors.js';
import { PMap } from './hamt.js';
import { PVec } from './pvec.js';
import { Inode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, Stats, kindOf, type DirEntry, type Kind } from './inode.js';
import { diffStates, type DiffResult } from './diff.js';
import { byteLength, isCanonicalName } from './names.js';
import { decode, encodeDelta, encodeFull, encodeManifest, fingerprint, type ChunkSource, type ManifestExport, type OpenExport, type RestoreOptions } from './snapshot.js';
import { fetchRefs, lazyInUse, type ChunkRef, type LazyChunks } from './lazy.js';

export const ROOT_INO = 1;
export const NAME_MAX = 255;
export const PATH_MAX = 4096;
export const SYMLOOP_MAX = 40;
export const FILE_MAX = 2 ** 40;
export const XATTR_SIZE_MAX = 65536;
/** Inode numbers stay below this, exact as doubles with room to spare (the FUSE bridge passes doubles). */
export const MAX_INO = 2 ** 48;

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

export type Clock = () => bigint;

export interface Quota {
  /** Sum of regular file sizes, symlink targets and extended attributes (names and values), in bytes. */
  bytes: number;
  /** Number of inodes, the root included. */
  inodes: number;
}

export interface InodeFsOptions {
  /** Nanoseconds since the epoch. Inject a fixed or stepping clock for deterministic snapshots. */
  clock?: Clock;
  quota?: Partial<Quota>;
  /** Owner of new inodes (default: this process's uid/gid). */
  uid?: number;
  gid?: number;
  /** Applied to the modes of the path API's creations (default 0o022). */
  umask?: number;
}

export const DEFAULT_QUOTA: Quota = { bytes: 8 * 2 ** 30, inodes: 4_000_000 };

export type ChangeEvent =
  | { type: 'inode'; ino: number }
  | { type: 'entry'; parentIno: number; name: string }
  | { type: 'reset' };

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atimeNs?: bigint | 'now';
  mtimeNs?: bigint | 'now';
}

interface Handle {
  ino: number;
  flags: number;
}

/** The persistent state a fork shares: everything but handles and listeners. */
export interface EngineState {
  inodes: PVec<Inode>;
  nextIno: number;
  usedBytes: number;
  usedInodes: number;
}

let lastEpoch = 0;
/** Owner epochs. Never serialized, so they do not affect snapshot bytes. */
export const newEpoch = (): number => ++lastEpoch;

export const wallClock: Clock = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const toBytes = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? textEncoder.encode(data) : data);

const fail = (code: ErrorCode, syscall: string, path?: string, detail?: string): never => {
  throw new FsError(code, syscall, path, detail);
};

export class InodeFs {
  readonly rootIno = ROOT_INO;
  readonly clock: Clock;
  readonly quota: Quota;
  readonly uid: number;
  readonly gid: number;
  readonly umask: number;

  /** @internal */ epoch: number;
  /** @internal */ inodes: PVec<Inode>;
  /** @internal */ nextIno: number;
  /** @internal */ usedBytes: number;
  /** @internal */ usedInodes: number;
  /** Bumped on every mutation: lets callers cache work done on a state (fingerprints). */
  version = 0;

  private handles = new Map<number, Handle>();
  private nextFh = 1;
  private openCounts = new Map<number, number>();
  private listeners: Set<(ev: ChangeEvent) => void> | null = null;

  constructor(options: InodeFsOptions = {}, state?: EngineState) {
    this.clock = options.clock ?? wallClock;
    this.quota = { ...DEFAULT_QUOTA, ...options.quota };
    this.uid = options.uid ?? process.getuid?.() ?? 0;
    this.gid = options.gid ?? process.getgid?.() ?? 0;
    this.umask = options.umask ?? 0o022;
    this.epoch = newEpoch();
    if (state) {
      this.inodes = state.inodes;
      this.nextIno = state.nextIno;
      this.usedBytes = state.usedBytes;
      this.usedInodes = state.usedInodes;
      return;
    }
    const now = this.clock();
    const root = new Inode(this.epoch, ROOT_INO, S_IFDIR | 0o755, this.uid, this.gid, 2, 0, now, now, now, now, null, null, PMap.empty(this.epoch), null, [[ROOT_INO, '']]);
    this.inodes = PVec.empty<Inode>(this.epoch).set(this.epoch, ROOT_INO, root);
    this.nextIno = ROOT_INO + 1;
    this.usedBytes = 0;
    this.usedInodes = 1;
  }

  /** The options a fork or restore carries over. */
  get options(): InodeFsOptions {
    return { clock: this.clock, quota: this.quota, uid: this.uid, gid: this.gid, umask: this.umask };
  }

  // ---------------------------------------------------------------- state: fork, reset, watch

  /** @internal The shareable state, frozen for this side: later writes here copy what they touch. */
  shareState(): EngineState {
    this.epoch = newEpoch();
    return { inodes: this.inodes, nextIno: this.nextIno, usedBytes: this.usedBytes, usedInodes: this.usedInodes };
  }

  /** An independent copy in O(1): both sides share every structure and copy on their next write. */
  fork(): InodeFs {
    const child = new InodeFs(this.options, this.shareState());
    child.dropOrphans([...this.openCounts.keys()]);
    return child;
  }

  /**
   * The whole state as bytes (versioned, checksummed, canonical). With `since`, a delta against that
   * earlier state whose size follows what changed; restoring it needs that same state as parent.
   */
  snapshot(options: { since?: InodeFs } = {}): Uint8Array {
    return options.since ? encodeDelta(this, options.since) : encodeFull(this);
  }

  /**
   * Rebuilds a state from snapshot bytes. Damaged, foreign or mismatched bytes throw SnapshotError.
   * The bytes are adopted (zero-copy) unless `copy: true`: do not modify them afterwards.
   */
  static restore(bytes: Uint8Array, options: RestoreOptions = {}): InodeFs {
    return decode(bytes, options);
  }

  /**
   * The state as a manifest: the snapshot format with each chunk referenced by its SHA-256 instead of
   * inlined, plus the referenced chunks (hash hex -> bytes), for a content-addressed store. With
   * `since`, a delta manifest that references only the chunks changed since that earlier state.
   * Plain data: safe to send across a thread. Export from a fork (`fs.fork().exportManifest()`) to
   * let unchanged chunks reuse their cached hashes. A delta names its parent by the parent's
   * fingerprint (a hash of the whole parent state) unless `parentId` (64 hex digits) names it: a
   * store that knows its parent by a hash of its manifest saves that cost on every save and restore.
   */
  exportManifest(options: { since?: InodeFs; parentId?: string } = {}): ManifestExport {
    return encodeManifest(this, options.since, options.parentId);
  }

  /**
   * exportManifest for a caller that writes the chunks out in batches (a save): the manifest and the
   * chunks' hashes now, their bytes by `read`. Here the bytes are the engine's own (nothing copied);
   * an engine on the FUSE serving thread copies one batch at a time across (@vws/fuse).
   */
  openExport(options: { since?: InodeFs; parentId?: string } = {}): OpenExport {
    const { manifest, chunks, unfetched } = this.exportManifest(options);
    return {
      manifest,
      chunks: [...chunks].map(([hash, bytes]) => [hash, bytes.length]),
      unfetched: [...unfetched],
      read: (hashes) => new Map(hashes.map((h) => [h, chunks.get(h) ?? missingExport(h)])),
      close: () => chunks.clear(),
    };
  }

  /**
   * Rebuilds a state from a manifest; `chunk(hash)` gives each referenced chunk's bytes (synchronously:
   * fetch them first), or `lazy` keeps each chunk as a ref fetched through it when something reads it
   * (stat, ls, diff, delta manifests need no bytes; a synchronous read of an unfetched chunk throws
   * ChunkNotFetchedError: see `prefetch` and `fetching`). Damaged or mismatched manifests throw
   * SnapshotError. The chunk bytes are adopted.
   */
  static importManifest(manifest: Uint8Array, options: RestoreOptions & ({ chunk: ChunkSource; lazy?: undefined } | { lazy: LazyChunks; chunk?: undefined })): InodeFs {
    const { chunk, lazy, ...rest } = options;
    return decode(manifest, rest, chunk, lazy);
  }

  /**
   * Chunks of a lazily imported state not fetched yet, under `paths` (files, or directories with
   * everything below them; default: the whole state), each once.
   */
  unfetched(paths?: string | string[]): ChunkRef[] {
    const list = paths === undefined ? undefined : typeof paths === 'string' ? [paths] : paths;
    if (!lazyInUse) {
      for (const p of list ?? []) this.resolve(p, 'prefetch'); // a bad path is still an error
      return [];
    }
    const refs = new Set<ChunkRef>();
    const visit = (inode: Inode, seen: Set<number>): void => {
      if (seen.has(inode.ino)) return;
      seen.add(inode.ino);
      if (inode.content) for (const r of inode.content.missing()) refs.add(r);
      inode.entries?.forEach((child) => visit(this.node(child), seen));
    };
    if (list === undefined) {
      this.inodes.forEach((inode) => {
        if (inode.content) for (const r of inode.content.missing()) refs.add(r);
      });
    } else {
      const seen = new Set<number>();
      for (const p of list) visit(this.resolve(p, 'prefetch'), seen);
    }
    return [...refs];
  }

  /**
   * Fetches the unfetched chunks under `paths` (default: everything), so that synchronous reads,
   * snapshots and fingerprints of them work. Returns what it fetched.
   */
  async prefetch(paths?: string | string[]): Promise<{ chunks: number; bytes: number }> {
    const refs = this.unfetched(paths);
    await fetchRefs(refs);
    return { chunks: refs.length, bytes: refs.reduce((n, r) => n + (r.bytes?.length ?? 0), 0) };
  }

  /** SHA-256 (hex) of this state's full snapshot: equal states have equal fingerprints. */
  fingerprint(): string {
    return Buffer.from(fingerprint(this)).toString('hex');
  }

  /** What changed from this state to `other`: cost follows the change when they share history. */
  diff(other: InodeFs): DiffResult {
    return diffStates(this, other);
  }

  /** Adopts another state in O(1) (checkpoint restore while mounted); open handles are closed. */
  reset(other: InodeFs): void {
    const state = other.shareState();
    const orphans = [...other.openCounts.keys()];
    this.handles.clear();
    this.openCounts.clear();
    this.epoch = newEpoch();
    this.inodes = state.inodes;
    this.nextIno = state.nextIno;
    this.usedBytes = state.usedBytes;
    this.usedInodes = state.usedInodes;
    this.dropOrphans(orphans);
    this.version++;
    this.emit({ type: 'reset' });
  }

  /** Inodes kept alive only by another side's open handles do not belong to this side. */
  private dropOrphans(inos: number[]): void {
    for (const ino of inos) {
      const inode = this.inodes.get(ino);
      if (inode && inode.nlink === 0) this.forget(inode);
    }
  }

  /** Listens to every mutation (a FUSE layer invalidates kernel caches with it). Returns unsubscribe. */
  watch(listener: (ev: ChangeEvent) => void): () => void {
    (this.listeners ??= new Set()).add(listener);
    return () => {
      this.listeners?.delete(listener);
      if (this.listeners?.size === 0) this.listeners = null;
    };
  }

  private emit(ev: ChangeEvent): void {
    if (this.listeners) for (const l of this.listeners) l(ev);
  }

  private touchedInode(ino: number): void {
    this.version++;
    if (this.listeners) this.emit({ type: 'inode', ino });
  }

  private touchedEntry(parentIno: number, name: string): void {
    this.version++;
    if (this.listeners) this.emit({ type: 'entry', parentIno, name });
  }

  // ---------------------------------------------------------------- inode table primitives

  /** @internal */ node(ino: number, syscall = 'getattr'): Inode {
    return this.inodes.get(ino) ?? fail('ENOENT', syscall, undefined, `inode ${ino}`);
  }

  /** The inode, made writable for this epoch (cloned into the table when shared). */
  private mut(ino: number): Inode {
    const cur = this.node(ino);
    if (cur.owner === this.epoch) return cur;
    const copy = cur.clone(this.epoch);
    this.inodes = this.inodes.set(this.epoch, ino, copy);
    return copy;
  }

  private dir(ino: number, syscall: string, path?: string): Inode {
    const inode = this.node(ino, syscall);
    if (!inode.isDir) fail('ENOTDIR', syscall, path);
    return inode;
  }

  private mutContent(inode: Inode): Content {
    const content = inode.content!.editable(this.epoch);
    inode.content = content;
    return content;
  }

  private reserve(syscall: string, path: string | undefined, bytes: number, inodes: number): void {
    if (inodes > 0 && this.usedInodes + inodes > this.quota.inodes) fail('ENOSPC', syscall, path, `inode quota of ${this.quota.inodes} reached`);
    if (bytes > 0 && this.usedBytes + bytes > this.quota.bytes) fail('ENOSPC', syscall, path, `byte quota of ${this.quota.bytes} reached`);
  }

  private allocInode(mode: number, uid: number, gid: number, extra: Partial<Pick<Inode, 'content' | 'entries' | 'target' | 'rdev'>>): Inode {
    if (this.nextIno >= MAX_INO) fail('ENOSPC', 'create', undefined, 'inode numbers exhausted');
    const now = this.clock();
    const ino = this.nextIno++;
    const inode = new Inode(this.epoch, ino, mode, uid, gid, 0, extra.rdev ?? 0, now, now, now, now, null, extra.content ?? null, extra.entries ?? null, extra.target ?? null, []);
    this.inodes = this.inodes.set(this.epoch, ino, inode);
    this.usedInodes++;
    return inode;
  }

  /** Adds name -> ino in a directory (the caller checked it is free). */
  private addEntry(parent: Inode, name: string, child: Inode, now: bigint): void {
    parent.entries = parent.entries!.set(this.epoch, name, child.ino);
    parent.listing = null;
    child.links.push([parent.ino, name]);
    if (child.isDir) {
      child.nlink = 2;
      parent.nlink++;
    } else {
      child.nlink++;
    }
    parent.mtime = parent.ctime = now;
  }

  /** Removes name from a directory and drops the link; the inode goes when unlinked and closed. */
  private removeEntry(parent: Inode, name: string, child: Inode, now: bigint): void {
    parent.entries = parent.entries!.delete(this.epoch, name);
    parent.listing = null;
    const i = linkIndex(child, parent.ino, name);
    if (i >= 0) child.links.splice(i, 1);
    if (child.isDir) {
      parent.nlink--;
      child.nlink = 0;
    } else {
      child.nlink--;
    }
    child.ctime = now;
    parent.mtime = parent.ctime = now;
    if (child.nlink === 0 && !this.openCounts.has(child.ino)) this.forget(child);
  }

  private forget(inode: Inode): void {
    this.inodes = this.inodes.delete(this.epoch, inode.ino);
    this.usedInodes--;
    this.usedBytes -= this.chargedBytes(inode);
  }

  private chargedBytes(inode: Inode): number {
    return chargedBytes(inode);
  }

  // ---------------------------------------------------------------- names and paths

  private checkName(name: string, syscall: string, path?: string): void {
    if (name.length === 0) fail('ENOENT', syscall, path, 'empty name');
    if (name.includes('\0')) fail('EINVAL', syscall, path, 'NUL byte in name');
    if (name.includes('/')) fail('EINVAL', syscall, path, "'/' in name");
    if (name.length > NAME_MAX / 3 && byteLength(name) > NAME_MAX) fail('ENAMETOOLONG', syscall, path, `a name is longer than ${NAME_MAX} bytes`);
    if (!isCanonicalName(name)) fail('EINVAL', syscall, path, 'the name has a lone surrogate that stands for no byte (see names.ts)');
  }

  /** Splits and validates a path; `..` may not climb above the root. */
  private parts(path: string, syscall: string): string[] {
    if (typeof path !== 'string') fail('EINVAL', syscall, String(path), 'path must be a string');
    if (path.length === 0) fail('ENOENT', syscall, path, 'empty path');
    if (path.includes('\0')) fail('EINVAL', syscall, path, 'NUL byte in path');
    if (path.length > PATH_MAX / 4 && byteLength(path) >= PATH_MAX) fail('ENAMETOOLONG', syscall, path, `path is longer than ${PATH_MAX} bytes`);
    const raw = path.split('/');
    const out: string[] = [];
    let depth = 0;
    for (const name of raw) {
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (depth === 0) fail('EACCES', syscall, path, "'..' climbs above the workspace root");
        depth--;
      } else {
        if (name.length > NAME_MAX / 3 && byteLength(name) > NAME_MAX) fail('ENAMETOOLONG', syscall, path, `a name is longer than ${NAME_MAX} bytes`);
        depth++;
      }
      out.push(name);
    }
    return out;
  }

  private parentOf(inode: Inode): number {
    return inode.links[0]?.[0] ?? ROOT_INO;
  }

  /** Walks components from the root, following symlinks (all, or all but the last). */
  private walk(path: string, comps: string[], syscall: string, followLast: boolean): Inode {
    let cur = this.node(ROOT_INO);
    let hops = 0;
    let queue = comps;
    let i = 0;
    while (i < queue.length) {
      const name = queue[i++];
      if (name === '.') continue;
      if (!cur.isDir) fail('ENOTDIR', syscall, path);
      if (name === '..') {
        cur = this.node(cur.ino === ROOT_INO ? ROOT_INO : this.parentOf(cur));
        continue;
      }
      const childIno = cur.entries!.get(name);
      if (childIno === undefined) fail('ENOENT', syscall, path);
      const child = this.node(childIno!);
      if (child.target !== null && (i < queue.length || followLast)) {
        if (++hops > SYMLOOP_MAX) fail('ELOOP', syscall, path);
        const target = child.target;
        // Symlinks resolve inside the workspace: an absolute target starts at our root, and '..' stops there.
        const rest = queue.slice(i);
        queue = target.split('/').filter((p) => p !== '').concat(rest);
        i = 0;
        if (target.startsWith('/')) cur = this.node(ROOT_INO);
        continue;
      }
      cur = child;
    }
    return cur;
  }

  /**
   * The common case without allocation: plain names, no symlink on the way, everything present.
   * Returns undefined for anything else, and the caller takes the general walk (which also builds
   * the right error).
   */
  private fastWalk(path: string, end: number, followLast: boolean): Inode | undefined {
    if (end > 1024 || path.indexOf('\0') >= 0) return undefined;
    let cur = this.inodes.get(ROOT_INO)!;
    let start = 0;
    while (start < end) {
      let slash = path.indexOf('/', start);
      if (slash < 0 || slash > end) slash = end;
      if (slash === start) {
        start++;
        continue;
      }
      const name = path.slice(start, slash);
      if (name === '.' || name === '..' || name.length > NAME_MAX / 3) return undefined;
      const entries = cur.entries;
      if (entries === null) return undefined;
      const ino = entries.get(name);
      if (ino === undefined) return undefined;
      const child = this.inodes.get(ino)!;
      if (child.target !== null && (slash < end || followLast)) return undefined;
      cur = child;
      start = slash + 1;
    }
    return cur;
  }

  private resolve(path: string, syscall: string, followLast = true): Inode {
    if (typeof path === 'string' && path.length > 0 && path.charCodeAt(path.length - 1) !== 47) {
      const hit = this.fastWalk(path, path.length, followLast);
      if (hit) return hit;
    }
    const comps = this.parts(path, syscall);
    const inode = this.walk(path, comps, syscall, followLast);
    if (path.endsWith('/') && !inode.isDir && comps.length > 0) {
      // 'file/' names a directory that is not there.
      if (inode.target === null) fail('ENOTDIR', syscall, path);
    }
    return inode;
  }

  /** The directory that holds the last component, and that component. */
  private resolveParent(path: string, syscall: string): { parent: Inode; name: string } {
    const slash = typeof path === 'string' ? path.lastIndexOf('/') : -1;
    if (slash >= 0 && slash < path.length - 1) {
      const name = path.slice(slash + 1);
      if (name !== '.' && name !== '..' && name.length <= NAME_MAX / 3 && name.indexOf('\0') < 0) {
        const parent = this.fastWalk(path, slash, true);
        if (parent && parent.entries !== null) return { parent, name };
      }
    }
    const comps = this.parts(path, syscall);
    if (comps.length === 0) fail('EBUSY', syscall, path, 'the root has no parent');
    const name = comps[comps.length - 1];
    if (name === '..' || name === '.') fail('EINVAL', syscall, path, `'${name}' cannot be the last component`);
    const parent = this.walk(path, comps.slice(0, -1), syscall, true);
    if (!parent.isDir) fail('ENOTDIR', syscall, path);
    return { parent, name };
  }

  /** Every path that names an inode (one per hard link), or [] for an orphan. */
  pathsOf(ino: number): string[] {
    const inode = this.inodes.get(ino);
    if (!inode) return [];
    if (ino === ROOT_INO) return ['/'];
    return inode.links.map(([parent, name]) => {
      const segs = [name];
      let p = parent;
      for (let guard = 0; p !== ROOT_INO && guard < PATH_MAX; guard++) {
        const dir = this.node(p);
        const link = dir.links[0];
        segs.push(link[1]);
        p = link[0];
      }
      return '/' + segs.reverse().join('/');
    });
  }

  // ---------------------------------------------------------------- inode-level API (FUSE)

  lookup(parentIno: number, name: string): Stats {
    const parent = this.dir(parentIno, 'lookup');
    if (name === '.') return new Stats(parent);
    if (name === '..') return new Stats(this.node(parentIno === ROOT_INO ? ROOT_INO : this.parentOf(parent)));
    this.checkName(name, 'lookup');
    const ino = parent.entries!.get(name);
    if (ino === undefined) fail('ENOENT', 'lookup', name);
    return new Stats(this.node(ino!));
  }

  getattr(ino: number): Stats {
    return new Stats(this.node(ino));
  }

  setattr(ino: number, attr: SetAttr): Stats {
    const cur = this.node(ino, 'setattr');
    if (attr.size !== undefined) {
      if (cur.isDir) fail('EISDIR', 'truncate');
      if (!cur.content) fail('EINVAL', 'truncate');
      if (!Number.isSafeInteger(attr.size) || attr.size < 0) fail('EINVAL', 'truncate', undefined, `bad size ${attr.size}`);
      if (attr.size > FILE_MAX) fail('EFBIG', 'truncate');
      this.reserve('truncate', undefined, attr.size - cur.content!.size, 0);
      cur.content!.needForTruncate(attr.size);
    }
    const inode = this.mut(ino);
    const now = this.clock();
    if (attr.mode !== undefined) inode.mode = (inode.mode & S_IFMT) | (attr.mode & 0o7777);
    if (attr.uid !== undefined && attr.uid !== -1) inode.uid = attr.uid;
    if (attr.gid !== undefined && attr.gid !== -1) inode.gid = attr.gid;
    if (attr.size !== undefined && attr.size !== inode.content!.size) {
      this.usedBytes += attr.size - inode.content!.size;
      this.mutContent(inode).truncate(this.epoch, attr.size);
      inode.mtime = now;
    }
    if (attr.atimeNs !== undefined) inode.atime = attr.atimeNs === 'now' ? now : attr.atimeNs;
    if (attr.mtimeNs !== undefined) inode.mtime = attr.mtimeNs === 'now' ? now : attr.mtimeNs;
    inode.ctime = now;
    this.touchedInode(ino);
    return new Stats(inode);
  }

  /**
   * fallocate(2) for the modes real tools use: 0 (the size grows to cover the range), KEEP_SIZE
   * (nothing to do: memory goes to data only when written; the byte quota counts sizes), PUNCH_HOLE
   * with KEEP_SIZE (the range reads zeros and its whole chunks are freed) and ZERO_RANGE (zeros;
   * the size grows unless KEEP_SIZE). Other modes (collapse, insert, unshare) are ENOTSUP.
   */
  fallocate(ino: number, mode: number, offset: number, length: number): void {
    const cur = this.node(ino, 'fallocate');
    if (cur.isDir) fail('EISDIR', 'fallocate');
    if (!cur.content) fail('ENODEV', 'fallocate', undefined, 'not a regular file');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) fail('EINVAL', 'fallocate', undefined, `bad range ${offset}+${length}`);
    const known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
    if (mode & ~known) fail('ENOTSUP', 'fallocate', undefined, `mode 0x${mode.toString(16)}`);
    const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0;
    const zero = (mode & FALLOC_FL_ZERO_RANGE) !== 0;
    if (punch && (zero || !(mode & FALLOC_FL_KEEP_SIZE))) fail('ENOTSUP', 'fallocate', undefined, 'PUNCH_HOLE goes with KEEP_SIZE alone');
    const end = offset + length;
    if (end > FILE_MAX) fail('EFBIG', 'fallocate');
    const grow = mode & FALLOC_FL_KEEP_SIZE ? 0 : Math.max(0, end - cur.content!.size);
    this.reserve('fallocate', undefined, grow, 0);
    if (!grow && !punch && !zero) return;
    if (punch || zero) cur.content!.needForZero(offset, end);
    const inode = this.mut(ino);
    const content = this.mutContent(inode);
    if (punch || zero) content.zero(this.epoch, offset, end);
    if (grow) {
      content.truncate(this.epoch, end);
      this.usedBytes += grow;
    }
    inode.mtime = inode.ctime = this.clock();
    this.touchedInode(ino);
  }

  /** Creates a node of any kind in a directory. */
  private makeNode(parentIno: number, name: string, mode: number, syscall: string, path: string | undefined, extra: { target?: string; rdev?: number } = {}): Inode {
    this.checkName(name, syscall, path);
    const parentRo = this.dir(parentIno, syscall, path);
    if (parentRo.nlink === 0) fail('ENOENT', syscall, path, 'directory was removed');
    if (parentRo.entries!.get(name) !== undefined) fail('EEXIST', syscall, path);
    const bytes = extra.target !== undefined ? byteLength(extra.target) : 0;
    this.reserve(syscall, path, bytes, 1);
    const type = mode & S_IFMT;
    const inode = this.allocInode(mode, this.uid, this.gid, {
      content: type === S_IFREG ? Content.empty(this.epoch) : null,
      entries: type === S_IFDIR ? PMap.empty(this.epoch) : null,
      target: extra.target ?? null,
      rdev: extra.rdev ?? 0,
    });
    this.usedBytes += bytes;
    const parent = this.mut(parentIno);
    this.addEntry(parent, name, inode, inode.ctime);
    this.touchedEntry(parentIno, name);
    return inode;
  }

  create(parentIno: number, name: string, mode: number, flags = O_RDWR | O_CREAT): { stats: Stats; fh: number } {
    const parent = this.dir(parentIno, 'create');
    const existing = parent.entries!.get(name);
    if (existing !== undefined) {
      if (flags & O_EXCL) fail('EEXIST', 'create', name);
      return { stats: this.getattr(existing), fh: this.open(existing, flags) };
    }
    const inode = this.makeNode(parentIno, name, S_IFREG | (mode & 0o7777), 'create', name);
    return { stats: new Stats(inode), fh: this.open(inode.ino, flags & ~O_TRUNC) };
  }

  mknod(parentIno: number, name: string, mode: number, rdev = 0): Stats {
    const type = mode & S_IFMT || S_IFREG;
    if (type === S_IFDIR || type === S_IFLNK) fail('EINVAL', 'mknod', name);
    return new Stats(this.makeNode(parentIno, name, type | (mode & 0o7777), 'mknod', name, { rdev }));
  }

  mkdirAt(parentIno: number, name: string, mode: number): Stats {
    return new Stats(this.makeNode(parentIno, name, S_IFDIR | (mode & 0o7777), 'mkdir', name));
  }

  symlinkAt(parentIno: number, name: string, target: string): Stats {
    this.checkTarget(target, 'symlink', name);
    return new Stats(this.makeNode(parentIno, name, S_IFLNK | 0o777, 'symlink', name, { target }));
  }

  private checkTarget(target: string, syscall: string, path?: string): void {
    if (typeof target !== 'string' || target.length === 0) fail('ENOENT', syscall, path, 'empty symlink target');
    if (target.includes('\0')) fail('EINVAL', syscall, path, 'NUL byte in symlink target');
    if (!isCanonicalName(target)) fail('EINVAL', syscall, path, 'the target has a lone surrogate that stands for no byte');
    if (byteLength(target) >= PATH_MAX) fail('ENAMETOOLONG', syscall, path, 'symlink target too long');
  }

  unlinkAt(parentIno: number, name: string, path?: string): void {
    this.checkName(name, 'unlink', path);
    const parentRo = this.dir(parentIno, 'unlink', path);
    const ino = parentRo.entries!.get(name);
    if (ino === undefined) fail('ENOENT', 'unlink', path ?? name);
    if (this.node(ino!).isDir) fail('EISDIR', 'unlink', path ?? name);
    const parent = this.mut(parentIno);
    const child = this.mut(ino!);
    this.removeEntry(parent, name, child, this.clock());
    this.touchedEntry(parentIno, name);
    this.touchedInode(ino!);
  }

  rmdirAt(parentIno: number, name: string, path?: string): void {
    if (name === '.') fail('EINVAL', 'rmdir', path ?? name);
    if (name === '..') fail('ENOTEMPTY', 'rmdir', path ?? name);
    this.checkName(name, 'rmdir', path);
    const parentRo = this.dir(parentIno, 'rmdir', path);
    const ino = parentRo.entries!.get(name);
    if (ino === undefined) fail('ENOENT', 'rmdir', path ?? name);
    const child = this.node(ino!);
    if (!child.isDir) fail('ENOTDIR', 'rmdir', path ?? name);
    if (child.entries!.size > 0) fail('ENOTEMPTY', 'rmdir', path ?? name);
    this.removeEntry(this.mut(parentIno), name, this.mut(ino!), this.clock());
    this.touchedEntry(parentIno, name);
  }

  linkAt(ino: number, newParentIno: number, newName: string, path?: string): Stats {
    const src = this.node(ino, 'link');
    // Linux looks the new name up before it looks at the source: EEXIST wins over EPERM.
    this.checkName(newName, 'link', path);
    const parentRo = this.dir(newParentIno, 'link', path);
    if (parentRo.entries!.get(newName) !== undefined) fail('EEXIST', 'link', path ?? newName);
    if (src.isDir) fail('EPERM', 'link', path, 'hard links to directories are not allowed');
    if (src.nlink === 0) fail('ENOENT', 'link', path, 'source was unlinked');
    const parent = this.mut(newParentIno);
    const inode = this.mut(ino);
    const now = this.clock();
    this.addEntry(parent, newName, inode, now);
    inode.ctime = now;
    this.touchedEntry(newParentIno, newName);
    this.touchedInode(ino);
    return new Stats(inode);
  }

  readlinkIno(ino: number): string {
    const inode = this.node(ino, 'readlink');
    if (inode.target === null) fail('EINVAL', 'readlink', undefined, 'not a symlink');
    return inode.target!;
  }

  renameAt(oldParentIno: number, oldName: string, newParentIno: number, newName: string, flags = 0, path?: string): void {
    const sys = 'rename';
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) || flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) fail('EINVAL', sys, path, `bad flags ${flags}`);
    if (oldName === '.' || oldName === '..' || newName === '.' || newName === '..') fail('EBUSY', sys, path);
    this.checkName(oldName, sys, path);
    this.checkName(newName, sys, path);
    const oldDir = this.dir(oldParentIno, sys, path);
    const newDir = this.dir(newParentIno, sys, path);
    const srcIno = oldDir.entries!.get(oldName);
    if (srcIno === undefined) fail('ENOENT', sys, path ?? oldName);
    const src = this.node(srcIno!);
    const dstIno = newDir.entries!.get(newName);
    const dst = dstIno === undefined ? undefined : this.node(dstIno);
    if (newDir.nlink === 0) fail('ENOENT', sys, path, 'target directory was removed');
    if (flags & RENAME_NOREPLACE && dst) fail('EEXIST', sys, path ?? newName);
    if (flags & RENAME_EXCHANGE && !dst) fail('ENOENT', sys, path ?? newName);
    // A directory may not move into its own subtree (EINVAL), nor may a name replace its own ancestor
    // (ENOTEMPTY, as Linux reports it).
    if (src.isDir) this.checkNotInside(src.ino, newParentIno, path, 'EINVAL');
    if (dst?.isDir) this.checkNotInside(dst.ino, oldParentIno, path, flags & RENAME_EXCHANGE ? 'EINVAL' : 'ENOTEMPTY');
    if (dst && dst.ino === src.ino) return; // two names of one inode: POSIX says do nothing
    if (dst && !(flags & RENAME_EXCHANGE)) {
      if (src.isDir && !dst.isDir) fail('ENOTDIR', sys, path ?? newName);
      if (!src.isDir && dst.isDir) fail('EISDIR', sys, path ?? newName);
      if (dst.isDir && dst.entries!.size > 0) fail('ENOTEMPTY', sys, path ?? newName);
    }
    const now = this.clock();
    const from = this.mut(oldParentIno);
    const to = newParentIno === oldParentIno ? from : this.mut(newParentIno);
    const moving = this.mut(src.ino);
    if (flags & RENAME_EXCHANGE) {
      const other = this.mut(dst!.ino);
      from.entries = from.entries!.set(this.epoch, oldName, other.ino);
      to.entries = to.entries!.set(this.epoch, newName, moving.ino);
      relink(moving, oldParentIno, oldName, newParentIno, newName);
      relink(other, newParentIno, newName, oldParentIno, oldName);
      if (moving.isDir !== other.isDir && from !== to) {
        const delta = moving.isDir ? 1 : -1;
        from.nlink -= delta;
        to.nlink += delta;
      }
      moving.ctime = other.ctime = now;
    } else {
      if (dst) this.removeEntry(to, newName, this.mut(dst.ino), now);
      from.entries = from.entries!.delete(this.epoch, oldName);
      to.entries = to.entries!.set(this.epoch, newName, moving.ino);
      relink(moving, oldParentIno, oldName, newParentIno, newName);
      if (moving.isDir && from !== to) {
        from.nlink--;
        to.nlink++;
      }
      moving.ctime = now;
    }
    from.mtime = from.ctime = now;
    to.mtime = to.ctime = now;
    from.listing = to.listing = null;
    this.touchedEntry(oldParentIno, oldName);
    this.touchedEntry(newParentIno, newName);
  }

  private checkNotInside(dirIno: number, targetParentIno: number, path: string | undefined, code: ErrorCode): void {
    for (let p = targetParentIno, guard = 0; guard < PATH_MAX; guard++) {
      if (p === dirIno) fail(code, 'rename', path, code === 'EINVAL' ? 'a directory cannot move into its own subtree' : 'the target is an ancestor of the source');
      if (p === ROOT_INO) return;
      p = this.parentOf(this.node(p));
    }
  }

  open(ino: number, flags = O_RDONLY): number {
    const inode = this.node(ino, 'open');
    if (inode.isDir && (flags & O_ACCMODE) !== O_RDONLY) fail('EISDIR', 'open');
    if (flags & O_TRUNC && inode.content && (flags & O_ACCMODE) !== O_RDONLY && inode.content.size > 0) {
      this.setattr(ino, { size: 0 });
    }
    const fh = this.nextFh++;
    this.handles.set(fh, { ino, flags });
    this.openCounts.set(ino, (this.openCounts.get(ino) ?? 0) + 1);
    return fh;
  }

  private handle(fh: number, syscall: string): Handle {
    return this.handles.get(fh) ?? fail('EBADF', syscall, undefined, `file handle ${fh}`);
  }

  read(fh: number, length: number, position: number): Uint8Array {
    const h = this.handle(fh, 'read');
    if ((h.flags & O_ACCMODE) === O_WRONLY) fail('EBADF', 'read', undefined, 'handle is write-only');
    const inode = this.node(h.ino, 'read');
    if (inode.isDir) fail('EISDIR', 'read');
    if (!inode.content) fail('EINVAL', 'read');
    return inode.content!.read(position, length);
  }

  /** Reads into a caller's buffer (no allocation: the FUSE bridge reads straight into the kernel's). */
  readInto(fh: number, target: Uint8Array, position: number): number {
    const h = this.handle(fh, 'read');
    if ((h.flags & O_ACCMODE) === O_WRONLY) fail('EBADF', 'read', undefined, 'handle is write-only');
    const inode = this.node(h.ino, 'read');
    if (inode.isDir) fail('EISDIR', 'read');
    if (!inode.content) fail('EINVAL', 'read');
    return inode.content!.readInto(target, position);
  }

  write(fh: number, data: Uint8Array, position: number): number {
    const h = this.handle(fh, 'write');
    if ((h.flags & O_ACCMODE) === O_RDONLY) fail('EBADF', 'write', undefined, 'handle is read-only');
    return this.writeAt(h.ino, data, h.flags & O_APPEND ? -1 : position, 'write');
  }

  /** Writes at a position (-1 appends). Checks limits before touching anything. */
  private writeAt(ino: number, data: Uint8Array, position: number, syscall: string, path?: string): number {
    const ro = this.node(ino, syscall);
    if (ro.isDir) fail('EISDIR', syscall, path);
    if (!ro.content) fail('EINVAL', syscall, path);
    const at = position < 0 ? ro.content!.size : position;
    if (!Number.isSafeInteger(at) || at < 0) fail('EINVAL', syscall, path, `bad position ${position}`);
    const end = at + data.length;
    if (end > FILE_MAX) fail('EFBIG', syscall, path);
    this.reserve(syscall, path, end - ro.content!.size, 0);
    ro.content!.need(at, end, `this ${syscall}`);
    const inode = this.mut(ino);
    const content = this.mutContent(inode);
    const before = content.size;
    if (data.length > 0) content.write(this.epoch, at, data);
    this.usedBytes += content.size - before;
    inode.mtime = inode.ctime = this.clock();
    this.touchedInode(ino);
    return data.length;
  }

  release(fh: number): void {
    const h = this.handle(fh, 'release');
    this.handles.delete(fh);
    this.unhold(h.ino);
  }

  /**
   * Keeps an inode alive without a handle, as an open file would (a kernel that still references an
   * unlinked inode: the FUSE bridge holds every inode the kernel knows). Pair with unhold().
   */
  hold(ino: number): void {
    this.node(ino, 'hold');
    this.openCounts.set(ino, (this.openCounts.get(ino) ?? 0) + 1);
  }

  /** Drops one hold (or open); an unlinked inode goes with its last one. */
  unhold(ino: number): void {
    const left = (this.openCounts.get(ino) ?? 1) - 1;
    if (left > 0) {
      this.openCounts.set(ino, left);
      return;
    }
    this.openCounts.delete(ino);
    const inode = this.inodes.get(ino);
    if (inode && inode.nlink === 0) this.forget(inode);
  }

  /** Reads a regular file by inode, no handle (permissions are the caller's business). */
  readIno(ino: number, target: Uint8Array, position: number): number {
    const inode = this.node(ino, 'read');
    if (inode.isDir) fail('EISDIR', 'read');
    if (!inode.content) fail('EINVAL', 'read');
    return inode.content!.readInto(target, position);
  }

  /** Writes a regular file by inode at a position (-1 appends), no handle. */
  writeIno(ino: number, data: Uint8Array, position: number): number {
    return this.writeAt(ino, data, position, 'write');
  }

  fsync(fh: number): void {
    this.handle(fh, 'fsync');
  }

  /** The attributes of an open handle's inode (works after unlink). */
  fstat(fh: number): Stats {
    return new Stats(this.node(this.handle(fh, 'fstat').ino, 'fstat'));
  }

  readdirIno(ino: number): DirEntry[] {
    const dir = this.dir(ino, 'readdir');
    const out: DirEntry[] = [];
    dir.entries!.forEach((child, name) => {
      out.push({ name: name as string, ino: child, kind: this.node(child).kind });
    });
    return out;
  }

  statfs(): { bsize: number; frsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number; namemax: number } {
    const bsize = 4096;
    const blocks = Math.floor(this.quota.bytes / bsize);
    const used = Math.ceil(this.usedBytes / bsize);
    const bfree = Math.max(0, blocks - used);
    return { bsize, frsize: bsize, blocks, bfree, bavail: bfree, files: this.quota.inodes, ffree: Math.max(0, this.quota.inodes - this.usedInodes), namemax: NAME_MAX };
  }

  getxattr(ino: number, name: string): Uint8Array {
    const value = this.node(ino, 'getxattr').xattrs?.get(name);
    if (value === undefined) fail('ENODATA', 'getxattr', undefined, name);
    return value!.slice();
  }

  listxattr(ino: number): string[] {
    return [...(this.node(ino, 'listxattr').xattrs?.keys() ?? [])].sort();
  }

  setxattr(ino: number, name: string, value: Uint8Array, flags = 0): void {
    if (typeof name !== 'string' || !name || name.includes('\0') || !isCanonicalName(name) || byteLength(name) > NAME_MAX) fail('ERANGE', 'setxattr', undefined, 'bad attribute name');
    if (value.length > XATTR_SIZE_MAX) fail('ENOSPC', 'setxattr', undefined, `value over ${XATTR_SIZE_MAX} bytes`);
    const old = this.node(ino, 'setxattr').xattrs?.get(name);
    const has = old !== undefined;
    if (flags & XATTR_CREATE && has) fail('EEXIST', 'setxattr', undefined, name);
    if (flags & XATTR_REPLACE && !has) fail('ENODATA', 'setxattr', undefined, name);
    // Attributes take room like content: their names and values count in the byte quota.
    const delta = value.length - (has ? old!.length : -byteLength(name));
    this.reserve('setxattr', undefined, delta, 0);
    const inode = this.mut(ino);
    (inode.xattrs ??= new Map()).set(name, value.slice());
    this.usedBytes += delta;
    inode.ctime = this.clock();
    this.touchedInode(ino);
  }

  removexattr(ino: number, name: string): void {
    if (!this.node(ino, 'removexattr').xattrs?.has(name)) fail('ENODATA', 'removexattr', undefined, name);
    const inode = this.mut(ino);
    this.usedBytes -= byteLength(name) + inode.xattrs!.get(name)!.length;
    inode.xattrs!.delete(name);
    if (inode.xattrs!.size === 0) inode.xattrs = null;
    inode.ctime = this.clock();
    this.touchedInode(ino);
  }

  // ---------------------------------------------------------------- path-level API

  writeFile(path: string, data: string | Uint8Array, options: { mode?: number; flag?: 'w' | 'wx' | 'a' } = {}): void {
    const bytes = toBytes(data);
    const flag = options.flag ?? 'w';
    const { parent, name } = this.resolveParent(path, 'open');
    let ino = parent.entries!.get(name);
    let target = ino === undefined ? undefined : this.node(ino);
    if (target && target.target !== null) {
      // Writing through a symlink writes its target, creating it if missing (as open(O_CREAT) does).
      try {
        target = this.resolve(path, 'open');
        ino = target.ino;
      } catch (e) {
        if (!(e instanceof FsError) || e.code !== 'ENOENT') throw e;
        return this.writeFile(this.danglingTarget(path), data, options);
      }
    }
    if (target) {
      if (flag === 'wx') fail('EEXIST', 'open', path);
      if (target.isDir) fail('EISDIR', 'open', path);
      if (flag === 'a') {
        this.writeAt(ino!, bytes, -1, 'write', path);
        return;
      }
      // Replace: check the quota for the new size before truncating, so a failure loses nothing.
      this.reserve('write', path, bytes.length - target.content!.size, 0);
      this.setattr(ino!, { size: 0 });
      this.writeAt(ino!, bytes, 0, 'write', path);
      return;
    }
    this.reserve('open', path, bytes.length, 1);
    const inode = this.makeNode(parent.ino, name, S_IFREG | ((options.mode ?? 0o666) & ~this.umask & 0o7777), 'open', path);
    if (bytes.length) this.writeAt(inode.ino, bytes, 0, 'write', path);
  }

  /** The path a dangling symlink points to, for writes that create it. */
  private danglingTarget(path: string): string {
    const { parent, name } = this.resolveParent(path, 'open');
    const link = this.node(parent.entries!.get(name)!);
    if (link.target!.startsWith('/')) return link.target!;
    const dirPath = this.pathsOf(parent.ino)[0] ?? '/';
    return `${dirPath === '/' ? '' : dirPath}/${link.target}`;
  }

  appendFile(path: string, data: string | Uint8Array): void {
    this.writeFile(path, data, { flag: 'a' });
  }

  readFile(path: string): Uint8Array;
  readFile(path: string, encoding: 'utf8' | 'utf-8'): string;
  readFile(path: string, encoding?: 'utf8' | 'utf-8'): Uint8Array | string {
    const inode = this.resolve(path, 'open');
    if (inode.isDir) fail('EISDIR', 'read', path);
    if (!inode.content) fail('EINVAL', 'read', path, `cannot read a ${inode.kind}`);
    const bytes = inode.content!.read(0, inode.content!.size);
    return encoding ? textDecoder.decode(bytes) : bytes;
  }

  mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): void {
    const mode = (options.mode ?? 0o777) & ~this.umask;
    if (!options.recursive) {
      const { parent, name } = this.resolveParent(path, 'mkdir');
      this.makeNode(parent.ino, name, S_IFDIR | mode, 'mkdir', path);
      return;
    }
    const comps = this.parts(path, 'mkdir');
    let cur = this.node(ROOT_INO);
    let checked = false;
    for (let i = 0; i < comps.length; i++) {
      const name = comps[i];
      if (name === '..') {
        cur = this.node(this.parentOf(cur));
        continue;
      }
      const childIno = cur.entries!.get(name);
      if (childIno === undefined) {
        if (!checked) {
          // The rest is (mostly) new: check every name and the quota first, so a refusal leaves no
          // half-made chain of directories behind.
          const fresh = comps.slice(i).filter((n) => n !== '..');
          for (const n of fresh) this.checkName(n, 'mkdir', path);
          if (cur.nlink === 0) fail('ENOENT', 'mkdir', path, 'directory was removed');
          this.reserve('mkdir', path, 0, fresh.length);
          checked = true;
        }
        cur = this.makeNode(cur.ino, name, S_IFDIR | mode, 'mkdir', path);
        continue;
      }
      let child = this.node(childIno);
      if (child.target !== null) child = this.walk(path, comps.slice(0, i + 1), 'mkdir', true);
      if (!child.isDir) fail(i === comps.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      cur = child;
    }
  }

  readdir(path: string): string[];
  readdir(path: string, options: { withFileTypes: true }): DirEntry[];
  readdir(path: string, options?: { withFileTypes?: boolean }): string[] | DirEntry[] {
    const dir = this.resolve(path, 'scandir');
    if (!dir.isDir) fail('ENOTDIR', 'scandir', path);
    if (options?.withFileTypes) return this.readdirIno(dir.ino).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    dir.listing ??= (dir.entries!.keys() as string[]).sort();
    return dir.listing.slice();
  }

  stat(path: string): Stats {
    return new Stats(this.resolve(path, 'stat'));
  }

  lstat(path: string): Stats {
    return new Stats(this.resolve(path, 'lstat', false));
  }

  exists(path: string): boolean {
    try {
      this.resolve(path, 'access');
      return true;
    } catch (e) {
      if (e instanceof FsError) return false;
      throw e;
    }
  }

  /** The inode number a path names (following symlinks unless told not to). */
  inoOf(path: string, follow = true): number {
    return this.resolve(path, 'lookup', follow).ino;
  }

  unlink(path: string): void {
    const { parent, name } = this.resolveParent(path, 'unlink');
    this.unlinkAt(parent.ino, name, path);
  }

  rmdir(path: string): void {
    const { parent, name } = this.resolveParent(path, 'rmdir');
    this.rmdirAt(parent.ino, name, path);
  }

  rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): void {
    let parent: Inode, name: string;
    try {
      ({ parent, name } = this.resolveParent(path, 'rm'));
      if (parent.entries!.get(name) === undefined) fail('ENOENT', 'rm', path);
    } catch (e) {
      // Like node's rm: force ignores a path that is not there, also when a component is a file.
      if (options.force && e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return;
      throw e;
    }
    const ino = parent.entries!.get(name)!;
    const inode = this.node(ino);
    if (!inode.isDir) return this.unlinkAt(parent.ino, name, path);
    if (!options.recursive) fail('EISDIR', 'rm', path, 'use recursive to remove a directory');
    this.removeTree(ino, path);
    this.rmdirAt(parent.ino, name, path);
  }

  /** Empties a directory depth-first, without recursion (trees may be deep). */
  private removeTree(rootIno: number, path: string): void {
    const stack: number[] = [rootIno];
    while (stack.length) {
      const dirIno = stack[stack.length - 1];
      const dir = this.node(dirIno);
      let descended = false;
      for (const [name, child] of dir.entries!.entries()) {
        if (this.node(child as number).isDir && this.node(child as number).entries!.size > 0) {
          stack.push(child as number);
          descended = true;
          break;
        }
        if (this.node(child as number).isDir) this.rmdirAt(dirIno, name as string, path);
        else this.unlinkAt(dirIno, name as string, path);
      }
      if (!descended && this.node(dirIno).entries!.size === 0) stack.pop();
    }
  }

  rename(from: string, to: string, flags = 0): void {
    const a = this.resolveParent(from, 'rename');
    const b = this.resolveParent(to, 'rename');
    this.renameAt(a.parent.ino, a.name, b.parent.ino, b.name, flags, `${from}' -> '${to}`);
  }

  link(existing: string, newPath: string): void {
    const src = this.resolve(existing, 'link', false);
    const { parent, name } = this.resolveParent(newPath, 'link');
    this.linkAt(src.ino, parent.ino, name, newPath);
  }

  symlink(target: string, path: string): void {
    const { parent, name } = this.resolveParent(path, 'symlink');
    this.checkTarget(target, 'symlink', path);
    this.makeNode(parent.ino, name, S_IFLNK | 0o777, 'symlink', path, { target });
  }

  readlink(path: string): string {
    const inode = this.resolve(path, 'readlink', false);
    if (inode.target === null) fail('EINVAL', 'readlink', path, 'not a symlink');
    return inode.target!;
  }

  realpath(path: string): string {
    return this.pathsOf(this.resolve(path, 'realpath').ino)[0] ?? fail('ENOENT', 'realpath', path);
  }

  chmod(path: string, mode: number): void {
    this.setattr(this.resolve(path, 'chmod').ino, { mode });
  }

  chown(path: string, uid: number, gid: number): void {
    this.setattr(this.resolve(path, 'chown').ino, { uid, gid });
  }

  utimes(path: string, atimeNs: bigint, mtimeNs: bigint): void {
    this.setattr(this.resolve(path, 'utime').ino, { atimeNs, mtimeNs });
  }

  truncate(path: string, len = 0): void {
    const inode = this.resolve(path, 'truncate');
    if (inode.isDir) fail('EISDIR', 'truncate', path);
    this.setattr(inode.ino, { size: len });
  }

  /** Files, bytes and inodes in use. */
  usage(): { bytes: number; inodes: number } {
    return { bytes: this.usedBytes, inodes: this.usedInodes };
  }

  /**
   * @internal Usage of the state a snapshot holds: without unlinked inodes kept only by open handles
   * or kernel holds (they are not part of a state, and a restore recomputes the counters from the tree).
   */
  liveUsage(): { bytes: number; inodes: number } {
    let bytes = this.usedBytes;
    let inodes = this.usedInodes;
    for (const ino of this.openCounts.keys()) {
      const inode = this.inodes.get(ino);
      if (inode && inode.nlink === 0 && ino !== ROOT_INO) {
        bytes -= chargedBytes(inode);
        inodes--;
      }
    }
    return { bytes, inodes };
  }

  /**
   * Usage recounted from the tree itself (every inode some name or open handle keeps), not from the
   * running counters: what usage() must equal. O(inodes).
   */
  countUsage(): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 0;
    this.inodes.forEach((inode) => {
      if (this.isOrphan(inode)) return;
      inodes++;
      bytes += this.chargedBytes(inode);
    });
    return { bytes, inodes };
  }

  /**
   * Makes usage() what the tree holds: drops inodes that no name and no open handle keeps (left by
   * a holder that went away without letting go) and resets the counters to the recount. Returns the
   * usage before and after. For `vws doctor --repair` and `vws gc` on vaults saved before the leak
   * was fixed.
   */
  repairUsage(): { before: { bytes: number; inodes: number }; after: { bytes: number; inodes: number } } {
    const before = this.usage();
    const orphans: Inode[] = [];
    this.inodes.forEach((inode) => {
      if (this.isOrphan(inode)) orphans.push(inode);
    });
    for (const inode of orphans) this.inodes = this.inodes.delete(this.epoch, inode.ino);
    const after = this.countUsage();
    if (orphans.length || after.bytes !== before.bytes || after.inodes !== before.inodes) {
      this.usedBytes = after.bytes;
      this.usedInodes = after.inodes;
      this.touchedInode(ROOT_INO); // a change: watchers (the serving thread's shared usage) see it
    }
    return { before, after };
  }

  private isOrphan(inode: Inode): boolean {
    return inode.ino !== ROOT_INO && inode.nlink === 0 && !this.openCounts.has(inode.ino);
  }
}

/** What an inode counts against the byte quota: content size or target, plus its xattrs. */
export function chargedBytes(inode: Inode): number {
  let n = 0;
  if (inode.content) n = inode.content.size;
  else if (inode.target !== null) n = byteLength(inode.target);
  if (inode.xattrs) for (const [name, value] of inode.xattrs) n += byteLength(name) + value.length;
  return n;
}

function linkIndex(inode: Inode, parent: number, name: string): number {
  const links = inode.links;
  for (let i = 0; i < links.length; i++) if (links[i][0] === parent && links[i][1] === name) return i;
  return -1;
}

function relink(inode: Inode, oldParent: number, oldName: string, newParent: number, newName: string): void {
  const i = linkIndex(inode, oldParent, oldName);
  if (i >= 0) inode.links[i] = [newParent, newName];
  else inode.links.push([newParent, newName]);
}

export { kindOf, type Kind };

function missingExport(hash: string): never {
  throw new Error(`chunk ${hash} is not part of this export`);
}
