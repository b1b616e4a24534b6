// A Store in a directory: chunks as files named by their hash, checkpoint manifests as files, each
// workspace's head and names in one small file replaced atomically under a lock (compare-and-set).
//
//   chunks/ab/abcdef…            a chunk's bytes (fan-out by the first two hex digits)
//   checkpoints/<id>.manifest    a manifest's bytes
//   checkpoints/<id>.refs        the chunk hashes it references, one a line
//   checkpoints/<id>.json        its record (parent, depth, manifest hash and size, …)
//   workspaces/<ws>/refs.json    { head, names }  (<ws>: the id in base64url)
//   workspaces/<ws>/lease.json   the lease, if any
//   lock                         held for each metadata step (file-lock.ts)
//
// Crash safety: chunks and a checkpoint's files are fsynced (and their directories) before refs.json is
// renamed over, so a head or name only ever points at a durable checkpoint; kill -9 anywhere leaves the
// head where it was (at worst with unreferenced files, which GC takes). The methods are synchronous at
// heart (`…Sync`), for callers like the CLI that run one command per process; the Store interface wraps
// them.

import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { HeadConflictError, LeaseHeldError, LeaseLostError, MissingChunkError, NotFoundError, StoreConfigError, StoreDamagedError, StoreError } from './errors.js';
import { sleep, verifyChunk } from './hash.js';
import { checkLock, withFileLock } from './file-lock.js';
import { readRegular, syncDir, syncFile, writeDurable } from './safe-file.js';
import { newRecord, type CheckpointRecord, type CommitInput, type GcOptions, type GcResult, type Lease, type LeaseOptions, type PutResult, type Store } from './store.js';

const HASH = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
/** Hard limits on what a read takes in, whatever a file claims. */
const MAX_CHUNK = 16 * 1024 * 1024;
const MAX_META = 16 * 1024 * 1024;
const MAX_MANIFEST = 1024 * 1024 * 1024;

interface Refs {
  head: string | null;
  names: Record<string, string>;
}

export interface DiskStoreOptions {
  /** How long a step waits for another process's lock on the store (default 10 s). */
  lockWaitMs?: number;
}

export class DiskStore implements Store {
  private readonly lockWaitMs: number;

  constructor(
    readonly root: string,
    options: DiskStoreOptions = {},
  ) {
    this.lockWaitMs = options.lockWaitMs ?? 10_000;
    mkdirSync(realDir(root), { recursive: true, mode: 0o700 });
    for (const d of ['chunks', 'checkpoints', 'workspaces']) mkdirSync(realDir(join(root, d)), { recursive: true, mode: 0o700 });
  }

  private locked<T>(fn: () => T): T {
    return withFileLock(join(this.root, 'lock'), fn, this.lockWaitMs);
  }

  chunkPath(hash: string): string {
    return join(this.root, 'chunks', hash.slice(0, 2), hash);
  }

  /** Fan-out directories found to be real ones (checked once each per instance: a load reads thousands of chunks). */
  private readonly realFans = new Set<string>();

  /** A chunk's path, its fan-out directory checked (a file or a link there is damage, not a place to follow). */
  private safeChunkPath(hash: string): string {
    const fan = hash.slice(0, 2);
    if (!this.realFans.has(fan)) {
      const st = lstatSync(realDir(join(this.root, 'chunks', fan)), { throwIfNoEntry: false });
      if (st) this.realFans.add(fan);
    }
    return this.chunkPath(hash);
  }

  private cpPath(id: string, ext: 'json' | 'refs' | 'manifest'): string {
    return join(this.root, 'checkpoints', `${id}.${ext}`);
  }

  private wsDir(workspace: string): string {
    if (!workspace) throw new StoreConfigError('a workspace id must not be empty');
    return realDir(join(this.root, 'workspaces', Buffer.from(workspace).toString('base64url')));
  }

  /** Where a workspace's head and names are kept (to name it in messages). */
  refsPath(workspace: string): string {
    return join(this.wsDir(workspace), 'refs.json');
  }

  // ---- chunks

  hasChunk(hash: string): boolean {
    return HASH.test(hash) && existsSync(this.chunkPath(hash));
  }

  /**
   * Of these chunks ([hash, length]), the hashes the store lacks (absent, or cut short), for a caller
   * that reads bytes only for those. The ones it has are made young again: GC's retention then spares
   * them until the commit that references them.
   */
  lackingChunksSync(chunks: Iterable<[string, number]>): string[] {
    const lacking: string[] = [];
    for (const [hash, length] of chunks) {
      if (!HASH.test(hash)) throw new StoreConfigError(`'${hash}' is not a chunk hash (64 hex digits)`);
      // Kept only when whole: a file cut short by a power loss before it was synced is written again.
      const st = lstatSync(this.safeChunkPath(hash), { throwIfNoEntry: false });
      if (st && !st.isFile()) throw new StoreDamagedError(this.chunkPath(hash), 'is not a regular file');
      if (!(st?.isFile() && st.size === length)) {
        lacking.push(hash);
        continue;
      }
      const now = new Date();
      try {
        utimesSync(this.chunkPath(hash), now, now);
      } catch {
        // taken by GC just now: the commit will say it is missing and the caller sends it again
      }
    }
    return lacking;
  }

  putChunksSync(chunks: Map<string, Uint8Array>): PutResult {
    // Chunks are for a commit, which takes the lock: a damaged lock refuses it before anything is written.
    checkLock(join(this.root, 'lock'));
    const fresh: Array<[string, Uint8Array]> = [];
    for (const hash of this.lackingChunksSync([...chunks].map(([h, d]) => [h, d.length]))) {
      const data = chunks.get(hash)!;
      verifyChunk(hash, data);
      fresh.push([hash, data]);
    }
    // Many chunks (a first save, a large change): written plainly, then one syncfs of the whole file
    // system (20,000 files: ~0.3 s, where one fsync each takes ~30 s). A few: one fsync each.
    const bulk = fresh.length > 32;
    const dirs = new Set<string>();
    let bytes = 0;
    for (const [hash, data] of fresh) {
      const dir = join(this.root, 'chunks', hash.slice(0, 2));
      if (!dirs.has(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeDurable(this.chunkPath(hash), data, { syncDir: false, sync: !bulk });
      dirs.add(dir);
      bytes += data.length;
    }
    if (bulk && spawnSync('sync', ['-f', this.root]).status === 0) return { chunks: fresh.length, bytes };
    if (bulk) for (const [hash] of fresh) syncFile(this.chunkPath(hash));
    for (const dir of dirs) syncDir(dir);
    if (dirs.size) syncDir(join(this.root, 'chunks'));
    return { chunks: fresh.length, bytes };
  }

  /** One chunk's bytes, checked against its hash. */
  getChunkSync(hash: string): Uint8Array {
    if (!HASH.test(hash)) throw new StoreConfigError(`'${hash}' is not a chunk hash (64 hex digits)`);
    let bytes: Buffer;
    try {
      bytes = readRegular(this.safeChunkPath(hash), MAX_CHUNK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingChunkError([hash], this.chunkPath(hash));
      throw e;
    }
    verifyChunk(hash, bytes);
    return bytes;
  }

  getChunksSync(hashes: string[]): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const missing: string[] = [];
    for (const h of hashes) {
      try {
        out.set(h, this.getChunkSync(h));
      } catch (e) {
        if (e instanceof MissingChunkError) missing.push(h);
        else throw e;
      }
    }
    if (missing.length) throw new MissingChunkError(missing, this.chunkPath(missing[0]!));
    return out;
  }

  // ---- checkpoints

  private readRecord(id: string): CheckpointRecord | null {
    if (!ID.test(id)) return null;
    const path = this.cpPath(id, 'json');
    const r = readJson(path) as Record<string, unknown> | undefined;
    if (r === undefined) return null;
    const ok =
      r && typeof r === 'object' && r.id === id && typeof r.workspace === 'string' && (r.parent === null || (typeof r.parent === 'string' && ID.test(r.parent))) &&
      Number.isInteger(r.depth) && typeof r.manifestHash === 'string' && HASH.test(r.manifestHash) && Number.isInteger(r.manifestBytes) &&
      Number.isInteger(r.refs) && typeof r.createdAt === 'string' && !Number.isNaN(Date.parse(r.createdAt));
    if (!ok) throw new StoreDamagedError(path, 'is not a checkpoint record (fields missing or of the wrong type)');
    return { ...(r as unknown as CheckpointRecord), createdAt: new Date(r.createdAt as string) };
  }

  private record(id: string): CheckpointRecord {
    const r = this.readRecord(id);
    if (!r) throw new NotFoundError(`checkpoint ${id} is not in the store (${ID.test(id) ? this.cpPath(id, 'json') : 'not a checkpoint id'} does not exist)`);
    return r;
  }

  /**
   * The chunk hashes checkpoint `record` references (GC keeps what they name): exactly as many as its
   * record counts, each a hash. A list cut short at a line end would otherwise let GC drop live chunks.
   */
  private readRefsOf(record: CheckpointRecord): string[] {
    const path = this.cpPath(record.id, 'refs');
    let text: string;
    try {
      text = readRegular(path, MAX_MANIFEST).toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreDamagedError(path, `does not exist (checkpoint ${record.id} lists its chunks there)`);
      throw e;
    }
    const list = text === '' ? [] : text.split('\n');
    for (const h of list) if (!HASH.test(h)) throw new StoreDamagedError(path, `holds '${h.slice(0, 80)}', not a chunk hash`);
    if (list.length !== record.refs) throw new StoreDamagedError(path, `lists ${list.length} chunks, its record says ${record.refs}`);
    // A flipped digit names another chunk: the one meant would be dropped as unreferenced.
    const gone = list.find((h) => !lstatSync(this.safeChunkPath(h), { throwIfNoEntry: false }));
    if (gone) throw new StoreDamagedError(path, `names chunk ${gone}, which is not in the store`);
    return list;
  }

  private readManifest(record: CheckpointRecord): Uint8Array {
    const path = this.cpPath(record.id, 'manifest');
    let bytes: Buffer;
    try {
      bytes = readRegular(path, Math.min(MAX_MANIFEST, record.manifestBytes));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreDamagedError(path, `does not exist (checkpoint ${record.id} keeps its manifest there)`);
      throw e;
    }
    if (bytes.length !== record.manifestBytes) throw new StoreDamagedError(path, `holds ${bytes.length} bytes, its record says ${record.manifestBytes}`);
    return bytes;
  }

  private readRefs(workspace: string): Refs | null {
    const path = join(this.wsDir(workspace), 'refs.json');
    const r = readJson(path) as Refs | undefined;
    if (r === undefined) return null;
    const ok = r && typeof r === 'object' && (r.head === null || (typeof r.head === 'string' && ID.test(r.head))) && r.names && typeof r.names === 'object' && !Array.isArray(r.names) && Object.values(r.names).every((v) => typeof v === 'string' && ID.test(v));
    if (!ok) throw new StoreDamagedError(path, 'is not a workspace head record');
    return r;
  }

  private writeRefs(workspace: string, refs: Refs): void {
    const dir = this.wsDir(workspace);
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o700 });
      syncDir(join(this.root, 'workspaces'));
    }
    writeDurable(join(dir, 'refs.json'), JSON.stringify(refs));
  }

  commitSync(input: CommitInput): CheckpointRecord {
    if (!ID.test(input.id)) throw new StoreConfigError(`'${input.id}' is not a valid checkpoint id`);
    for (const h of input.refs) if (!HASH.test(h)) throw new StoreConfigError(`'${h}' is not a chunk hash (64 hex digits)`);
    return this.locked(() => {
      const refs = this.readRefs(input.workspace);
      const actual = refs?.head ?? null;
      if (actual !== input.expectedHead) throw new HeadConflictError(input.workspace, input.expectedHead, actual);
      if (input.lease) this.checkLease(input.lease);
      const missing = input.refs.filter((h) => !existsSync(this.chunkPath(h)));
      if (missing.length) throw new MissingChunkError(missing);
      if (input.parent && !this.readRecord(input.parent)) throw new NotFoundError(`checkpoint ${input.parent} (the parent) is not in the store`);
      if (this.readRecord(input.id)) throw new StoreConfigError(`checkpoint ${input.id} exists already`);
      const record = newRecord(input);
      // The checkpoint's files, durable, before anything points at them; the record last (it is what
      // makes the checkpoint exist).
      writeDurable(this.cpPath(input.id, 'manifest'), input.manifest, { syncDir: false });
      writeDurable(this.cpPath(input.id, 'refs'), input.refs.join('\n'), { syncDir: false });
      writeDurable(this.cpPath(input.id, 'json'), JSON.stringify(record), { syncDir: false });
      syncDir(join(this.root, 'checkpoints'));
      const names = { ...(refs?.names ?? {}) };
      if (input.name) names[input.name] = input.id;
      this.writeRefs(input.workspace, { head: input.id, names });
      return record;
    });
  }

  headSync(workspace: string): CheckpointRecord | null {
    const id = this.readRefs(workspace)?.head;
    return id ? this.record(id) : null;
  }

  /** The head's id alone (one small file read): what a caller compares to know whether it is current. */
  headId(workspace: string): string | null {
    return this.readRefs(workspace)?.head ?? null;
  }

  checkpointSync(workspace: string, nameOrId: string): CheckpointRecord {
    const id = this.readRefs(workspace)?.names[nameOrId] ?? nameOrId;
    const r = this.readRecord(id);
    if (!r) throw new NotFoundError(`workspace '${workspace}' has no checkpoint named or numbered '${nameOrId}'`);
    return r;
  }

  namesSync(workspace: string): Map<string, string> {
    return new Map(Object.entries(this.readRefs(workspace)?.names ?? {}));
  }

  /** Gives checkpoint `id` the name in the workspace (replacing one of that name), or with null drops the name. */
  setNameSync(workspace: string, name: string, id: string | null): void {
    this.locked(() => {
      const refs = this.readRefs(workspace);
      if (!refs) throw new NotFoundError(`workspace '${workspace}' does not exist`);
      if (id !== null) this.record(id);
      const names = { ...refs.names };
      if (id === null) delete names[name];
      else names[name] = id;
      this.writeRefs(workspace, { head: refs.head, names });
    });
  }

  chainSync(id: string): Array<{ record: CheckpointRecord; manifest: Uint8Array }> {
    const out: Array<{ record: CheckpointRecord; manifest: Uint8Array }> = [];
    for (let at: string | null = id; at; ) {
      const record = this.record(at);
      out.push({ record, manifest: this.readManifest(record) });
      at = record.parent;
      if (out.length > 100_000) throw new StoreDamagedError(this.cpPath(id, 'json'), 'its parent chain loops');
    }
    return out.reverse();
  }

  refsOfSync(ids: string[]): string[] {
    const all = new Set<string>();
    for (const id of ids) {
      const r = this.readRecord(id);
      if (r) for (const h of this.readRefsOf(r)) all.add(h);
    }
    return [...all];
  }

  forkSync(checkpoint: string, to: string): void {
    this.locked(() => {
      this.record(checkpoint);
      if (this.readRefs(to)) throw new StoreError(`workspace '${to}' already exists`);
      this.writeRefs(to, { head: checkpoint, names: {} });
    });
  }

  /** Forgets a workspace (its head and names); its data goes at the next GC unless something else holds it. */
  dropWorkspaceSync(workspace: string): void {
    this.locked(() => rmSync(this.wsDir(workspace), { recursive: true, force: true }));
  }

  workspacesSync(): string[] {
    const out: string[] = [];
    for (const d of readdirSync(join(this.root, 'workspaces'))) {
      if (existsSync(join(this.root, 'workspaces', d, 'refs.json'))) out.push(Buffer.from(d, 'base64url').toString());
    }
    return out;
  }

  // ---- leases

  private readLease(workspace: string): Lease | null {
    const path = join(this.wsDir(workspace), 'lease.json');
    const l = readJson(path) as { holder?: unknown; token?: unknown; expiresAt?: unknown } | undefined;
    if (l === undefined) return null;
    const expiresAt = new Date(String(l?.expiresAt));
    if (typeof l?.holder !== 'string' || typeof l.token !== 'string' || Number.isNaN(expiresAt.getTime())) throw new StoreDamagedError(path, 'is not a lease record');
    return { workspace, holder: l.holder, token: l.token, expiresAt };
  }

  private writeLease(lease: Lease | null, workspace: string): void {
    const dir = this.wsDir(workspace);
    if (!lease) return void rmSync(join(dir, 'lease.json'), { force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeDurable(join(dir, 'lease.json'), JSON.stringify({ holder: lease.holder, token: lease.token, expiresAt: lease.expiresAt.toISOString() }));
  }

  private checkLease(lease: Lease): Lease {
    const cur = this.readLease(lease.workspace);
    if (!cur || cur.token !== lease.token || cur.expiresAt.getTime() <= Date.now()) throw new LeaseLostError(lease.workspace, lease.holder);
    return cur;
  }

  async acquireLease(workspace: string, holder: string, options: LeaseOptions): Promise<Lease> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
      const got = this.locked(() => {
        const cur = this.readLease(workspace);
        if (cur && cur.expiresAt.getTime() > Date.now()) return cur;
        const lease = { workspace, holder, token: randomUUID(), expiresAt: new Date(Date.now() + options.ttlMs) };
        this.writeLease(lease, workspace);
        return { ...lease, fresh: true };
      });
      if ('fresh' in got) return { workspace, holder, token: got.token, expiresAt: got.expiresAt };
      if (Date.now() >= deadline) throw new LeaseHeldError(workspace, got.holder, got.expiresAt);
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    }
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.locked(() => {
      const cur = this.checkLease(lease);
      const next = { ...cur, expiresAt: new Date(Date.now() + ttlMs) };
      this.writeLease(next, lease.workspace);
      return next;
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.locked(() => {
      if (this.readLease(lease.workspace)?.token === lease.token) this.writeLease(null, lease.workspace);
    });
  }

  // ---- gc

  gcSync(options: GcOptions): GcResult {
    return this.locked(() => {
      const cutoff = Date.now() - options.retainMs;
      const roots: string[] = [];
      for (const ws of this.workspacesSync()) {
        const refs = this.readRefs(ws)!;
        if (refs.head) roots.push(refs.head);
        roots.push(...Object.values(refs.names));
      }
      const cpDir = join(this.root, 'checkpoints');
      const ids = readdirSync(cpDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
      for (const id of ids) {
        const r = this.readRecord(id);
        if (r && r.createdAt.getTime() > cutoff) roots.push(id);
      }
      const keep = new Set<string>();
      for (const root of roots) {
        for (let id: string | null = root; id && !keep.has(id); id = this.readRecord(id)?.parent ?? null) keep.add(id);
      }
      let checkpoints = 0;
      for (const id of ids) {
        if (keep.has(id)) continue;
        // The record first: without it the checkpoint does not exist, whatever a crash leaves.
        rmSync(this.cpPath(id, 'json'), { force: true });
        rmSync(this.cpPath(id, 'manifest'), { force: true });
        rmSync(this.cpPath(id, 'refs'), { force: true });
        checkpoints++;
      }
      // Files of a checkpoint whose record never landed (a commit killed midway), and dead writers' temp files.
      for (const f of readdirSync(cpDir)) {
        const id = f.replace(/\.(manifest|refs|json)(\.tmp-.*)?$/, '');
        if (!keep.has(id) && oldEnough(join(cpDir, f), cutoff) && !f.endsWith('.json')) rmSync(join(cpDir, f), { force: true });
      }
      const used = new Set<string>();
      for (const id of keep) for (const h of this.readRefsOf(this.record(id))) used.add(h);
      let chunks = 0;
      let bytes = 0;
      const chunkRoot = join(this.root, 'chunks');
      for (const fan of readdirSync(chunkRoot)) {
        for (const f of readdirSync(realDir(join(chunkRoot, fan)))) {
          const path = join(chunkRoot, fan, f);
          if (used.has(f)) continue;
          const st = lstatSync(path, { throwIfNoEntry: false });
          if (!st || st.mtimeMs > cutoff) continue;
          if (!HASH.test(f) && !deadTemp(f)) continue;
          rmSync(path, { force: true });
          if (HASH.test(f)) {
            chunks++;
            bytes += st.size;
          }
        }
      }
      return { checkpoints, chunks, bytes };
    });
  }

  // ---- the Store interface

  async putChunks(chunks: Map<string, Uint8Array>): Promise<PutResult> {
    return this.putChunksSync(chunks);
  }
  async getChunks(hashes: string[]): Promise<Map<string, Uint8Array>> {
    return this.getChunksSync(hashes);
  }
  async commit(input: CommitInput): Promise<CheckpointRecord> {
    return this.commitSync(input);
  }
  async head(workspace: string): Promise<CheckpointRecord | null> {
    return this.headSync(workspace);
  }
  async checkpoint(workspace: string, nameOrId: string): Promise<CheckpointRecord> {
    return this.checkpointSync(workspace, nameOrId);
  }
  async names(workspace: string): Promise<Map<string, string>> {
    return this.namesSync(workspace);
  }
  async chain(id: string): Promise<Array<{ record: CheckpointRecord; manifest: Uint8Array }>> {
    return this.chainSync(id);
  }
  async refsOf(ids: string[]): Promise<string[]> {
    return this.refsOfSync(ids);
  }
  async fork(checkpoint: string, to: string): Promise<void> {
    this.forkSync(checkpoint, to);
  }
  async gc(options: GcOptions): Promise<GcResult> {
    return this.gcSync(options);
  }
  async workspaces(): Promise<string[]> {
    return this.workspacesSync();
  }
  async close(): Promise<void> {}
}

function oldEnough(path: string, cutoff: number): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return Boolean(st && st.mtimeMs <= cutoff && (!/\.tmp-/.test(path) || deadTemp(path)));
}

/** A temp file (`name.tmp-<pid>-<n>`) whose writer is gone. */
function deadTemp(name: string): boolean {
  const m = /\.tmp-(\d+)-\d+$/.exec(name);
  if (!m) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/** `path`, when it exists, is a directory (not a link to one, not a file): else StoreDamagedError. */
function realDir(path: string): string {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new StoreDamagedError(path, st.isSymbolicLink() ? 'is a symbolic link, not a directory' : 'is not a directory');
  return path;
}

/** A small JSON record, read safely; undefined when the file does not exist (StoreDamagedError if not JSON). */
function readJson(path: string): unknown {
  let text: string;
  try {
    text = readRegular(path, MAX_META).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new StoreDamagedError(path, 'is not JSON');
  }
}
