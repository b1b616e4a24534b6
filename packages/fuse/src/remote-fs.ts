// An engine that lives on the serving thread, seen from the host: the same InodeFs API, every call
// forwarded synchronously (serve-thread.ts). An engine moves there when it is first mounted, in
// place: the object the caller holds (the InodeFilesystem's, the CLI's, the sandbox's) becomes the
// handle, so every holder keeps seeing one tree. Forks of it live there too (O(1) as before).
//
// What changes for the caller after the move: calls cost a thread round trip (see the README),
// watch() listeners are called asynchronously (batched), handles opened with open() before the move
// are closed, and the engine keeps time by the wall clock (a custom clock function cannot cross).

import { FILE_MAX, FsError, InodeFs, isCanonicalName, NAME_MAX, nameToBytes, PATH_MAX, ROOT_INO, Stats, wallClock, type ChangeEvent, type DiffResult, type InodeFsOptions, type OpenExport } from '@vws/inode-fs';
import type { ServingThread } from './serve-thread.js';
import { isPlainPath, ReadCache, splitPath as split, type Cached } from './read-cache.js';
import { decodeError, decodeResult, type EngineRef, type PipeReply } from './wire.js';

const REMOTE = Symbol('vws.remote');

/** The cache's key for the names in directory `dir` (a Set, kept beside the answers). */
const namesKey = (dir: string) => `\0names\0${dir}`;

/**
 * Whether the engine takes the last name of plain path `path` as it is (no NUL, a byte string, not
 * too long, the whole path short enough): else a miss or a create of it answers otherwise.
 */
function ordinaryName(path: string, name: string): boolean {
  return !name.includes('\0') && isCanonicalName(name) && nameToBytes(name).length <= NAME_MAX && Buffer.byteLength(path) < PATH_MAX;
}

/**
 * A miss answered here: `stat`, `lstat` or `exists` of a plain path whose directory's names the
 * cache holds (exact as of its epoch) and which is not among them, as the engine would answer it.
 * Names the engine would refuse instead (NUL, too long, no byte string) still cross.
 */
function missFromListing(c: ReadCache, method: string, args: unknown[]): Cached | undefined {
  if ((method !== 'stat' && method !== 'lstat' && method !== 'exists') || args.length !== 1 || typeof args[0] !== 'string') return undefined;
  const path = args[0];
  if (path === '/' || !isPlainPath(path)) return undefined;
  const [dir, name] = split(path);
  const listing = c.get(namesKey(dir));
  if (!listing || !('ok' in listing) || (listing.ok as Set<string>).has(name) || !ordinaryName(path, name)) return undefined;
  if (method === 'exists') return { ok: false, path, plain: false };
  const e = new FsError('ENOENT', method, path);
  return { err: { name: 'FsError', message: e.message, code: e.code, syscall: method, path }, path, plain: false, parentPlain: true };
}

interface Remote {
  server: ServingThread;
  id: number;
  /** Read cache, for engines with an epoch slot (mounted ones): see cachedRead. */
  cache?: ReadCache;
  /** A fork of a cached engine: its parent, the parent's epoch and the host's mutation count as of the fork. */
  forkedAt?: { parent: Remote; epoch: number; mutations: number };
}

/** What $writeFileStat answers (serve-worker.ts). */
type WriteStat = { stats: unknown; before: number | null; after: number | null; simple: boolean };

type Holder = InodeFs & { [REMOTE]?: Remote };

/** Engines released when their host handle is collected (forks taken per command, for one). */
const released = new FinalizationRegistry<Remote>(({ server, id }) => server.untrack(id));

const remoteOf = (fs: InodeFs): Remote | undefined => (fs as Holder)[REMOTE];

/**
 * Lets the host cache reads of `fs` (a mounted engine): the serving thread bumps a shared counter on
 * every change of it, API or FUSE, before any caller could see the change, so a cached answer is
 * exact while the counter has not moved. Agents' tools read the same paths several times per call.
 */
export function cacheReads(fs: InodeFs): void {
  const remote = remoteOf(fs);
  if (!remote || remote.cache) return;
  const slot = remote.server.call(remote.id, '$slot') as number;
  if (slot >= 0) remote.cache = new ReadCache(slot);
}

/** Reads whose answers depend only on the engine's state and their arguments. */
const CACHED = new Set(['stat', 'lstat', 'exists', 'readFile', 'readdir', 'usage', 'realpath', 'readlink', 'inoOf']);
const CACHE_MAX = 4096;


/**
 * After a write whose answer is `r`: the cache keeps what the write cannot have changed, and the
 * file's new Stats (a write is usually followed by a stat).
 */
function keepWriteStat(self: InodeFs, remote: Remote, path: string, r: WriteStat): void {
  const c = remote.cache!;
  // Only if nothing else changed the engine since the write (else the next read starts afresh).
  if (r.after === null || Atomics.load(remote.server.epochs, c.slot) !== r.after) return;
  // The cache was exact just before the write and the write touched one plain name: drop only
  // what may mention it (the names of its directory gain it); otherwise everything.
  const partial = r.simple && c.epoch === r.before && isPlainPath(path) && path !== '/';
  const [dir, name] = split(path);
  const listing = partial ? c.get(namesKey(dir)) : undefined;
  if (partial) c.forgetPath(path);
  else c.clear();
  c.epoch = r.after;
  c.set(statKey(path), { ok: decodeResult(r.stats, () => self), path, plain: r.simple });
  // (The Set is the cache's own: grown in place, not copied, as an Agent adds file after file.)
  if (listing && 'ok' in listing) c.set(namesKey(dir), { ...listing, ok: (listing.ok as Set<string>).add(name) });
}

const statKey = (path: string) => `stat\0${JSON.stringify([path])}`;

/** Pipelined writes: on unless VWS_PIPELINE_WRITES=0 (read at each write, for comparisons). */
const pipelining = () => process.env.VWS_PIPELINE_WRITES !== '0';

/**
 * Whether writeFile(path, data) is certain to succeed, so the host need not wait for it. The cache
 * must be exact (nothing changed since it was filled) and know `path` (a write is usually preceded
 * by a stat), the write must replace or create the file whole ('w', no mode), and then either:
 * - `path` names a regular file with one link and no symlink on the way, and the new size fits the
 *   byte quota; or
 * - `path` is missing in a directory named plainly, its name is valid, and one more inode and the
 *   bytes fit the quotas.
 * Nothing else can make such a write fail: the engine API checks no permissions.
 */
function pipelinable(self: InodeFs, remote: Remote, path: string, data: string | Uint8Array, options?: { mode?: number; flag?: string }): boolean {
  const c = remote.cache!;
  if (c.pending || (options?.flag !== undefined && options.flag !== 'w') || options?.mode !== undefined || !pipelining()) return false;
  if (Atomics.load(remote.server.epochs, c.slot) !== c.epoch || !isPlainPath(path) || path === '/') return false;
  const hit = c.get(statKey(path));
  if (!hit) return false;
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > FILE_MAX) return false;
  const usage = sharedUsage(remote);
  if ('ok' in hit) {
    const st = hit.ok as Stats;
    if (!hit.plain || !st.isFile() || st.nlink !== 1) return false;
    return size <= st.size || usage.bytes + (size - st.size) <= self.quota.bytes;
  }
  if (hit.err.code !== 'ENOENT' || !hit.parentPlain || !ordinaryName(path, split(path)[1])) return false;
  return usage.inodes + 1 <= self.quota.inodes && usage.bytes + size <= self.quota.bytes;
}

/**
 * Posts the write and returns. It is applied before any later call of this host and before any
 * kernel request the serving thread begins after it (serve-worker.ts gate); if a request was under
 * way as it was posted, or the engine moved (even by this write, applied already), the order is not
 * certain and the host waits for the answer after all.
 */
function pipelineWrite(self: InodeFs, remote: Remote, path: string, data: string | Uint8Array): void {
  const c = remote.cache!;
  const transfer: ArrayBuffer[] = [];
  const wire = toWire(remote.server, data, transfer);
  c.pending = { seq: remote.server.post(remote.id, '$writeFileStat', [path, wire, {}], transfer), path };
  if (!remote.server.gateClear() || Atomics.load(remote.server.epochs, c.slot) !== c.epoch) {
    remote.server.postsWaited++;
    settlePipelined(self, remote, true);
  }
}

/**
 * Takes in the answer of this engine's pipelined write (waiting for it if `wait`): its Stats go to
 * the cache; an error (a prediction that failed) is thrown here, at the next use of the engine.
 * False while the write is still on its way.
 */
function settlePipelined(self: InodeFs, remote: Remote, wait: boolean): boolean {
  const c = remote.cache!;
  const pending = c.pending!;
  const r = remote.server.answerOf(pending.seq, wait);
  if (!r) return false;
  c.pending = undefined;
  if ('err' in r) {
    const e = decodeError(r.err);
    e.message = `vws: a writeFile of ${pending.path} reported done failed on the serving thread: ${e.message}`;
    throw e;
  }
  keepWriteStat(self, remote, pending.path, (r as PipeReply & { ok: WriteStat }).ok);
  return true;
}

/**
 * Whether one of a, b is a fork of the other and both are as they were at the fork: the parent's
 * epoch has not moved (no API or kernel change of it), the host has made no call that may change an
 * engine (the fork included), and the fork is not mounted (its kernel changes would move no counter
 * we read).
 */
function unchangedPair(a: InodeFs, b: InodeFs): boolean {
  const [ra, rb] = [remoteOf(a), remoteOf(b)];
  if (!ra || !rb) return false;
  for (const [fork, parent] of [
    [ra, rb],
    [rb, ra],
  ]) {
    const at = fork.forkedAt;
    if (!at || at.parent !== parent || fork.cache || !parent.cache || parent.cache.pending) continue;
    if (parent.server.mutations === at.mutations && Atomics.load(parent.server.epochs, parent.cache.slot) === at.epoch) return true;
  }
  return false;
}

/** A copy the caller may change without changing the cache. */
function own(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map((v) => (v && typeof v === 'object' && !(v instanceof Stats) ? { ...v } : v));
  if (value && typeof value === 'object' && !(value instanceof Stats)) return { ...value };
  return value;
}

/** usage() of a cached engine: the serving thread keeps it in shared memory, current to its last change. */
function sharedUsage(remote: Remote): { bytes: number; inodes: number } {
  const { epochs, usage } = remote.server;
  const slot = remote.cache!.slot;
  for (;;) {
    const before = Atomics.load(epochs, slot);
    const u = { bytes: usage[2 * slot], inodes: usage[2 * slot + 1] };
    if (Atomics.load(epochs, slot) === before) return u; // not torn by a change meanwhile
  }
}

function cachedRead(self: InodeFs, remote: Remote, method: string, args: unknown[]): unknown {
  const c = remote.cache!;
  // A pipelined write: the cache and the shared usage are from before it until its answer is in
  // (on its way: waiting for it costs what a call would, and the cache is exact again after).
  if (c.pending) settlePipelined(self, remote, true);
  if (method === 'usage') return sharedUsage(remote);
  const epochs = remote.server.epochs;
  const epoch = Atomics.load(epochs, c.slot);
  if (epoch !== c.epoch || c.size > CACHE_MAX) {
    c.clear();
    c.epoch = epoch;
  }
  const key = `${method}\0${JSON.stringify(args)}`;
  let hit = c.get(key);
  if (!hit) {
    hit = missFromListing(c, method, args);
    if (hit) c.set(key, hit); // a later write of that path finds it (pipelinable)
  }
  if (!hit) {
    const { names, ...r } = remote.server.call(remote.id, '$read', [method, args]) as Cached & { names?: string[] };
    const path = typeof args[0] === 'string' ? args[0] : undefined;
    hit = 'ok' in r ? { ok: decodeResult(r.ok, () => self), path, plain: r.plain } : { ...r, path };
    // Kept only if nothing changed meanwhile (the answer is then the state's as of `epoch`).
    if (Atomics.load(epochs, c.slot) === epoch) {
      c.set(key, hit);
      if (names && path) {
        const [dir] = split(path);
        c.set(namesKey(dir), { ok: new Set(names), path: dir, plain: true });
      }
    }
  }
  if ('err' in hit) throw decodeError(hit.err);
  return own(hit.ok);
}

/**
 * Lets go of a serving-thread engine now (a fork taken for one command's change report) instead of
 * when its host handle is collected: a host that allocates little may not collect for hundreds of
 * commands, while each such fork keeps a whole earlier state alive on the serving thread (an exec
 * daemon grew by each exec's deleted files). The handle must not be used afterwards. A no-op for an
 * engine on this thread.
 */
export function releaseEngine(fs: InodeFs): void {
  const remote = remoteOf(fs) as (Remote & { released?: boolean }) | undefined;
  if (!remote || remote.released) return;
  remote.released = true;
  released.unregister(fs);
  remote.server.untrack(remote.id);
}

/** Whether `fs` lives on a serving thread. */
export const isRemote = (fs: InodeFs): boolean => remoteOf(fs) !== undefined;

/** The fields that do not change after construction, kept on the host object. */
function fixedFields(fs: InodeFs) {
  return { rootIno: fs.rootIno, clock: fs.clock, quota: fs.quota, uid: fs.uid, gid: fs.gid, umask: fs.umask };
}

function attach(target: object, server: ServingThread, id: number, fixed: ReturnType<typeof fixedFields>): RemoteInodeFs {
  Object.setPrototypeOf(target, RemoteInodeFs.prototype);
  Object.assign(target, fixed);
  const remote = { server, id };
  Object.defineProperty(target, REMOTE, { value: remote, enumerable: false });
  server.track();
  released.register(target, remote, target);
  return target as RemoteInodeFs;
}

/** From this many bytes of file data up, a tree moves to the serving thread as a manifest (adopt). */
const manifestMoveBytes = () => Number(process.env.VWS_MOVE_AS_MANIFEST_BYTES ?? 512 * 1024 * 1024);

/**
 * The id of `fs` on `server`, moving it there first when it lives on this thread: its state is sent
 * as a snapshot (a big one as its manifest and chunks) and the object becomes a handle to the engine
 * over there. `own`: nothing else here shares its chunks (see restoreForMount).
 */
export function adopt(server: ServingThread, fs: InodeFs, own = false): number {
  const remote = remoteOf(fs);
  if (remote) {
    if (remote.server !== server) throw new Error('vws: this engine lives on a serving thread that is gone');
    return remote.id;
  }
  const fixed = fixedFields(fs);
  const { quota, uid, gid, umask } = fixed;
  const lazy = fs.unfetched();
  let ref: EngineRef;
  if (lazy.length) {
    // Opened lazily from a store: it moves as a manifest with the chunks it has; the rest stay
    // with their store, here, and are fetched when the serving thread asks (server.supply).
    for (const r of lazy) server.chunkSources.set(r.hash, r);
    const { manifest, chunks } = fs.exportManifest();
    ref = server.call(0, '$restoreManifest', [manifest, [...chunks], { quota, uid, gid, umask }]) as EngineRef;
  } else if (fs.usage().bytes >= manifestMoveBytes()) {
    // A big tree moves as its manifest and its chunks, each in a buffer of its own: a snapshot is one
    // buffer, which cannot pass 2 GiB, and would hold the whole state a second time at once.
    // `own`: no other engine here shares these chunks, so their buffers are handed over, not copied
    // (a copy would hold the state twice more at once: the message and the thread's engine).
    const { manifest, chunks } = fs.exportManifest();
    const list = [...chunks];
    const transfer = own ? list.map(([, c]) => c).filter((c) => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer).map((c) => c.buffer as ArrayBuffer) : [];
    ref = server.call(0, '$importManifest', [manifest, list, { quota, uid, gid, umask }], [...new Set(transfer)]) as EngineRef;
  } else {
    const bytes = fs.snapshot();
    // The snapshot is ours alone: hand its memory over rather than copy it.
    ref = server.call(0, '$restore', [bytes, { quota, uid, gid, umask }], handOver(bytes)) as EngineRef;
  }
  for (const key of Object.keys(fs)) delete (fs as unknown as Record<string, unknown>)[key];
  attach(fs, server, ref.$engine, fixed);
  return ref.$engine;
}

/**
 * Restores snapshot bytes straight onto the serving thread, for an engine about to be mounted: what
 * mount() would otherwise decode here, encode again and move (a 10,000-file tree: ~170 ms saved).
 * The bytes are handed over when they fill their buffer (then do not use them afterwards).
 */
export function restoreServed(server: ServingThread, bytes: Uint8Array, options: { quota?: InodeFsOptions['quota'] } = {}): InodeFs {
  const ref = server.call(0, '$restore', [bytes, options], handOver(bytes)) as EngineRef & { options: Pick<InodeFs, 'quota' | 'uid' | 'gid' | 'umask'> };
  return attach(Object.create(null), server, ref.$engine, { rootIno: ROOT_INO, clock: wallClock, ...ref.options });
}

/** The buffer to transfer with `bytes` (not copy), when they fill it alone; else nothing. */
function handOver(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer] : [];
}

/**
 * Engines among the arguments travel as ids (a local one moves over first); bytes as a copy that is
 * handed over by transfer (cloning an ArrayBuffer costs more than the call itself).
 */
function toWire(server: ServingThread, a: unknown, transfer: ArrayBuffer[]): unknown {
  if (a instanceof Uint8Array) {
    const copy = new Uint8Array(a);
    transfer.push(copy.buffer);
    return copy;
  }
  if (a instanceof InodeFs) return { $engine: adopt(server, a) };
  if (a && typeof a === 'object' && (a as { since?: unknown }).since instanceof InodeFs) {
    return { ...a, since: { $engine: adopt(server, (a as { since: InodeFs }).since) } };
  }
  return a;
}

function forward(self: InodeFs, method: string, args: unknown[]): unknown {
  const remote = remoteOf(self)!;
  // Which also surfaces the error of a pipelined write that failed after all (it should not).
  if (remote.cache?.pending) settlePipelined(self, remote, false);
  const transfer: ArrayBuffer[] = [];
  const wire = args.map((a) => toWire(remote.server, a, transfer));
  const result = remote.server.call(remote.id, method, wire, transfer);
  return decodeResult(result, (ref) => attach(Object.create(null), remote.server, ref.$engine, fixedFields(self)));
}

/** The host's handle to an engine on the serving thread. Never constructed: see adopt(). */
export class RemoteInodeFs extends InodeFs {
  /** O(1) over there too; pipelined: the caller does not wait for the serving thread. */
  override fork(): InodeFs {
    const remote = remoteOf(this)!;
    const { server, id, cache } = remote;
    const made = attach(Object.create(null), server, server.pipeline(id, 'fork'), fixedFields(this));
    // Read after the fork was posted: a change that lands in between moves the epoch, so a later
    // diff goes across (see diff); the record can only make a diff cross when it need not.
    if (cache && !cache.pending) remoteOf(made)!.forkedAt = { parent: remote, epoch: Atomics.load(server.epochs, cache.slot), mutations: server.mutations };
    return made;
  }

  /**
   * A fork against the engine it was taken from, when neither can have changed since (a command's
   * change report after a command that wrote nothing): empty, with no call.
   */
  override diff(other: InodeFs): DiffResult {
    if (unchangedPair(this, other)) return { added: [], modified: [], deleted: [], renamed: [] };
    return forward(this, 'diff', [other]) as DiffResult;
  }

  /**
   * A write of a mounted engine also brings back the file's Stats for the read cache (one call, not
   * two). When its success is certain (pipelinable), it is not waited for at all.
   */
  override writeFile(path: string, data: string | Uint8Array, options?: { mode?: number; flag?: 'w' | 'wx' | 'a' }): void {
    const remote = remoteOf(this)!;
    if (!remote.cache || typeof path !== 'string') return void forward(this, 'writeFile', [path, data, options]);
    if (remote.cache.pending) settlePipelined(this, remote, false);
    if (pipelinable(this, remote, path, data, options)) return pipelineWrite(this, remote, path, data);
    keepWriteStat(this, remote, path, forward(this, '$writeFileStat', [path, data, options ?? {}]) as WriteStat);
  }

  override watch(listener: (ev: ChangeEvent) => void): () => void {
    const { server, id } = remoteOf(this)!;
    return server.watch(id, listener as (ev: never) => void);
  }

  override readInto(fh: number, target: Uint8Array, position: number): number {
    const bytes = forward(this, 'readInto', [fh, target.length, position]) as Uint8Array;
    target.set(bytes);
    return bytes.length;
  }

  override readIno(ino: number, target: Uint8Array, position: number): number {
    const bytes = forward(this, 'readIno', [ino, target.length, position]) as Uint8Array;
    target.set(bytes);
    return bytes.length;
  }

  /**
   * The export stays over there; each read copies one batch across (handed over, not cloned), so a
   * save of a big tree holds one batch here, never a second copy of the tree.
   */
  override openExport(options: { since?: InodeFs; parentId?: string } = {}): OpenExport {
    const { server } = remoteOf(this)!;
    const r = forward(this, '$openExport', [options]) as { export: number; manifest: Uint8Array; unfetched: string[]; chunks: Array<[string, number]> };
    let open = true;
    return {
      manifest: r.manifest,
      chunks: r.chunks,
      unfetched: r.unfetched,
      read: (hashes) => new Map(server.call(0, '$exportRead', [r.export, hashes]) as Array<[string, Uint8Array]>),
      close: () => {
        if (open && server.alive) server.call(0, '$exportClose', [r.export]);
        open = false;
      },
    };
  }

  /** Chunk refs stay on the serving thread with their engine. */
  override unfetched(): never {
    throw new Error('vws: the chunks of an engine on the serving thread live there: use prefetch(paths)');
  }

  /** Fetches (here, where the store is) the chunks the engine over there lacks under `paths`. */
  override async prefetch(paths?: string | string[]): Promise<{ chunks: number; bytes: number }> {
    const { server, id } = remoteOf(this)!;
    const { hashes, bytes } = server.call(id, '$unfetched', [paths]) as { hashes: string[]; bytes: number };
    if (hashes.length) await server.supply(hashes);
    return { chunks: hashes.length, bytes };
  }

  override shareState(): never {
    throw new Error('vws: an engine on the serving thread cannot share its structures with this thread (use fork())');
  }
}

// The engine's version counter (a field on a local engine) is read over there.
Object.defineProperty(RemoteInodeFs.prototype, 'version', {
  get(this: InodeFs) {
    return forward(this, 'version', []);
  },
  set() {
    // Only the engine itself counts its versions.
  },
  configurable: true,
});

// Every other method of the engine, forwarded as it is.
for (const name of Object.getOwnPropertyNames(InodeFs.prototype)) {
  if (name === 'constructor' || Object.prototype.hasOwnProperty.call(RemoteInodeFs.prototype, name)) continue;
  const d = Object.getOwnPropertyDescriptor(InodeFs.prototype, name)!;
  if (typeof d.value !== 'function') continue;
  const read = CACHED.has(name);
  Object.defineProperty(RemoteInodeFs.prototype, name, {
    value(this: InodeFs, ...args: unknown[]) {
      if (read) {
        const remote = remoteOf(this)!;
        if (remote.cache) return cachedRead(this, remote, name, args);
      }
      return forward(this, name, args);
    },
    writable: true,
    configurable: true,
  });
}
