// Vaults on disk: $VWS_HOME/vaults/<name>/meta.json names the vault's workspace in a content-addressed
// store shared by every vault ($VWS_HOME/store, a DiskStore): chunks by hash, checkpoint manifests, a
// head moved by compare-and-set. A save writes the chunks the store lacks and a delta manifest (a
// one-file change: that file's chunks and a few hundred bytes); a named checkpoint is a pointer to a
// saved state; a fork is a new workspace whose head is the same checkpoint. Old vaults (state.snap +
// checkpoints/*.snap) are read as they are and moved into the store at their first write.
//
// Every file is written atomically and durably, a head only ever points at durable data, so a process
// killed at any moment leaves a vault before or after its command. Every file is read safely (no
// symlink followed, nothing but regular files, bounded) and meta.json is validated: damage is exit 4
// with a line naming the file. A lock per vault (proper-lockfile) makes a second process wait, then fail.

import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ChunkNotFetchedError, DEFAULT_QUOTA, InodeFs, LazyChunks, type OpenExport, type Quota } from '@vws/inode-fs';
import { ChunkHashMismatchError, DiskStore, MissingChunkError, readRegular, StoreError, type CheckpointRecord } from '@vws/store';
import lockfile from 'proper-lockfile';
import { z } from 'zod';

export class VaultError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'VaultError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const META_MAX = 4 * 1024 * 1024;
/** Old-format snapshot files: never read past this (a Buffer cannot hold more anyway). */
const SNAP_MAX = 2 ** 31 - 1;
/**
 * Deltas are chained until they add up to twice the largest manifest in the chain (about the state's
 * size: a bulk import is one big delta) plus 1 MiB, or this many: a restore reads O(state) bytes.
 */
const MAX_DEPTH = 256;
const CHAIN_SLACK = 1024 * 1024;
/**
 * A loaded tree's chunks are fetched from the store when something reads them; a tree whose chunks
 * total at most this many bytes is fetched whole at load (one batch of disk reads beats many small
 * round trips, and a small tree then behaves exactly as a fully loaded one).
 */
const prefetchBytes = () => Number(process.env.VWS_PREFETCH_BYTES ?? 8 * 1024 * 1024);

/**
 * A vault holds its tree in memory, so the byte quota of a vault that sets none is what this host can
 * hold: min(8 GiB, half its memory) (an exec that writes and saves peaks at about 1.25x the vault;
 * VWS_DEFAULT_QUOTA_BYTES overrides). Past it a write fails with ENOSPC instead of the process being
 * killed by the kernel for want of memory, and what the command did up to there is saved.
 */
export const MEMORY_FRACTION = 0.5;
export function defaultQuotaBytes(): number {
  const set = Number(process.env.VWS_DEFAULT_QUOTA_BYTES);
  if (Number.isSafeInteger(set) && set > 0) return set;
  return Math.min(DEFAULT_QUOTA.bytes, Math.floor(totalmem() * MEMORY_FRACTION));
}

/** The limits a vault's tree is loaded with: its own, else the defaults (the byte one bounded by memory). */
export function vaultQuota(m: Pick<VaultMeta, 'quota'>): Partial<Quota> {
  return { bytes: defaultQuotaBytes(), ...m.quota };
}

/** A warning for a byte limit the host cannot hold in memory, or null. */
export function quotaWarning(bytes: number): string | null {
  const mem = totalmem();
  if (bytes <= mem * MEMORY_FRACTION) return null;
  return `a byte limit of ${bytes} is more than half this host's memory (${mem} bytes): the vault's tree lives in memory, and a vault that grows near the limit may get its process killed by the kernel (out of memory) before the limit is reached`;
}

export function vwsHome(): string {
  return process.env.VWS_HOME || join(homedir(), '.vws');
}

/** Writes bytes atomically: a reader sees the old file or the new one, never a mix. */
export function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

const quotaSchema = z.strictObject({ bytes: z.number().int().positive().optional(), inodes: z.number().int().positive().optional() });
const metaSchema = z.object({
  /** 2: the vault lives in the store; absent: an old vault (state.snap), moved at its first write. */
  format: z.literal(2).optional(),
  name: z.string().regex(NAME),
  /** Its workspace in the store (format 2). */
  workspace: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  checkpoints: z.record(
    z.string().regex(NAME, 'a checkpoint name must be letters, digits, . _ - (no path)'),
    z.object({ createdAt: z.string(), bytes: z.number().int().nonnegative(), id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional() }),
  ),
  /** Limits the tree is loaded with (the engine's defaults where absent): writes past them fail with ENOSPC. */
  quota: quotaSchema.optional(),
});

export type VaultMeta = z.infer<typeof metaSchema>;

/** Where a loaded tree goes: @vws/fuse's restoreForMount (snapshot bytes, or an engine built here). */
export type Restore = (src: Uint8Array | InodeFs, options: { quota?: Partial<Quota> }) => InodeFs;

/** What a loaded or saved tree was based on: the delta of its next save is taken against `base`. */
interface Basis {
  base: InodeFs;
  head: string;
  manifestHash: string;
  depth: number;
  /** Manifest bytes of the chain (all but its full manifest), and the largest manifest in it. */
  chainBytes: number;
  largest: number;
}
const bases = new WeakMap<InodeFs, Basis>();

/**
 * Lets go of a base when a save replaces it. A mounted tree's base is a fork on the serving thread,
 * kept there until its host handle is collected, which a host that allocates little (the exec
 * daemon) may not do for many saves: each kept base pins a whole earlier state. Where trees are
 * mounted, @vws/fuse's releaseEngine is installed here.
 */
let dropBase: (fs: InodeFs) => void = () => {};
export function releaseBasesWith(release: (fs: InodeFs) => void): void {
  dropBase = release;
}

function setBasis(fs: InodeFs, basis: Basis): void {
  const old = bases.get(fs);
  bases.set(fs, basis);
  if (old && old.base !== basis.base) dropBase(old.base);
}

/** A tree nobody will use again (the daemon evicted it): its base, then the tree itself, let go at once. */
export function forgetTree(fs: InodeFs, release: (fs: InodeFs) => void): void {
  const b = bases.get(fs);
  bases.delete(fs);
  if (b) release(b.base);
  release(fs);
}

let sharedStore: { root: string; store: DiskStore } | null = null;
/** The store every vault of $VWS_HOME keeps its data in. */
export function vaultStore(): DiskStore {
  const root = join(vwsHome(), 'store');
  if (sharedStore?.root !== root) sharedStore = { root, store: new DiskStore(root) };
  return sharedStore.store;
}

/** A store error (damage, a missing chunk) as the CLI's exit 4, naming the vault. */
function damaged(vault: string, e: unknown): never {
  if (e instanceof VaultError) throw e;
  if (e instanceof ChunkHashMismatchError) {
    throw new VaultError(`vault '${vault}' cannot be read: ${vaultStore().chunkPath(e.hash)}: ${e.message} (repair: restore $VWS_HOME from a backup, or remove the vault)`, 4);
  }
  if (e instanceof StoreError || (e as Error).name === 'SnapshotError') {
    throw new VaultError(`vault '${vault}' cannot be read: ${(e as Error).message} (repair: restore $VWS_HOME from a backup, or remove the vault)`, 4);
  }
  throw e;
}

export class Vault {
  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  static root(): string {
    return join(vwsHome(), 'vaults');
  }

  static list(): string[] {
    const root = Vault.root();
    return existsSync(root) ? readdirSync(root).filter((n) => existsSync(join(root, n, 'meta.json'))).sort() : [];
  }

  static checkName(name: string): void {
    if (!NAME.test(name)) throw new VaultError(`'${name}' is not a valid vault or checkpoint name (letters, digits, . _ -; up to 64)`);
  }

  static open(name: string): Vault {
    Vault.checkName(name);
    const dir = join(Vault.root(), name);
    if (!lstatSync(join(dir, 'meta.json'), { throwIfNoEntry: false })) throw new VaultError(`no vault named '${name}' (vaults: ${Vault.list().join(', ') || 'none'}; create one with: vws vault create ${name})`, 3);
    return new Vault(name, dir);
  }

  /** A new vault holding `fs` (empty by default). Refuses a directory that already holds anything. */
  static create(name: string, fs = new InodeFs(), quota?: Partial<Quota>): Vault {
    const v = Vault.prepare(name);
    const workspace = randomUUID();
    try {
      v.commitTree(workspace, fs, null, null);
    } catch (e) {
      damaged(name, e);
    }
    const now = new Date().toISOString();
    // meta.json last: a vault without it does not exist (a crash mid-create leaves nothing visible).
    v.writeMeta({ format: 2, name, workspace, createdAt: now, updatedAt: now, checkpoints: {}, ...(quota ? { quota } : {}) });
    return v;
  }

  private static prepare(name: string): Vault {
    Vault.checkName(name);
    const dir = join(Vault.root(), name);
    if (existsSync(join(dir, 'meta.json'))) throw new VaultError(`a vault named '${name}' exists already`);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st && (!st.isDirectory() || readdirSync(dir).length > 0)) {
      throw new VaultError(`${dir} exists and holds data but no meta.json (a damaged vault?): move it away or restore its meta.json; nothing was changed`, 4);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new Vault(name, dir);
  }

  private get metaPath(): string {
    return join(this.dir, 'meta.json');
  }

  meta(): VaultMeta {
    const path = this.metaPath;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readRegular(path, META_MAX).toString('utf8'));
    } catch (e) {
      const why = e instanceof SyntaxError ? 'is not JSON' : (e as Error).message.replace(`${path}: `, '');
      throw new VaultError(`${path}: ${why} (repair: restore it from a backup, or remove the vault directory)`, 4);
    }
    const r = metaSchema.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new VaultError(`${path}: ${issue.path.join('.') || '(top)'}: ${issue.message} (repair: fix or restore the file, or remove the vault directory)`, 4);
    }
    if (r.data.format === 2 && !r.data.workspace) throw new VaultError(`${path}: workspace: missing (repair: restore the file from a backup)`, 4);
    return r.data;
  }

  private writeMeta(m: VaultMeta): void {
    atomicWrite(this.metaPath, JSON.stringify(m, null, 2));
  }

  private isOld(m = this.meta()): boolean {
    return m.format !== 2;
  }

  private ws(m = this.meta()): string {
    return m.workspace!;
  }

  /** The head of the vault's workspace: a vault always has one, so none is damage (exit 4, naming refs.json). */
  private head(m: VaultMeta): string {
    try {
      const store = vaultStore();
      const id = store.headId(this.ws(m));
      if (!id) throw new VaultError(`vault '${this.name}' cannot be read: ${store.refsPath(this.ws(m))} does not exist or names no head (repair: restore $VWS_HOME from a backup)`, 4);
      return id;
    } catch (e) {
      damaged(this.name, e);
    }
  }

  /** The tree; `restore` decodes it (for exec: @vws/fuse's restoreForMount, onto the serving thread). */
  load(restore?: Restore): InodeFs {
    const m = this.meta();
    if (this.isOld(m)) return this.readSnap(join(this.dir, 'state.snap'), m, restore);
    return this.loadId(this.head(m), m, restore);
  }

  private readSnap(path: string, m: VaultMeta, restore: Restore = (b, o) => (b instanceof InodeFs ? b : InodeFs.restore(b, o))): InodeFs {
    try {
      return restore(readRegular(path, SNAP_MAX), { quota: vaultQuota(m) });
    } catch (e) {
      throw new VaultError(`vault '${this.name}' cannot be read: ${(e as Error).message}`, 4);
    }
  }

  /** A saved state by checkpoint id, tracked so that its next save is a delta. */
  private loadId(id: string, m: VaultMeta, restore?: Restore): InodeFs {
    const store = vaultStore();
    try {
      const chain = store.chainSync(id);
      for (const { record, manifest } of chain) {
        const actual = createHash('sha256').update(manifest).digest('hex');
        if (actual !== record.manifestHash) throw new VaultError(`vault '${this.name}' cannot be read: ${store.root}/checkpoints/${record.id}.manifest is damaged (sha256 ${actual}, recorded ${record.manifestHash})`, 4);
      }
      // Lazily: only the manifests now; a chunk's bytes when something reads it (a FUSE read parks
      // until the host fetched it; an API read throws ChunkNotFetchedError, and fetching() retries).
      const lazy = new LazyChunks((hashes) => store.getChunks(hashes));
      let fs: InodeFs | undefined;
      let parentId: string | undefined;
      for (const { record, manifest } of chain) {
        fs = InodeFs.importManifest(manifest, { quota: vaultQuota(m), parent: fs, parentId, lazy });
        parentId = record.manifestHash;
      }
      const refs = fs!.unfetched();
      if (refs.reduce((n, r) => n + r.length, 0) <= prefetchBytes()) {
        const got = store.getChunksSync(refs.map((r) => r.hash));
        for (const [hash, bytes] of got) lazy.put(hash, bytes);
      }
      // Onto the serving thread when asked (exec): the engine moves (a big one as its manifest and
      // chunks, never as one snapshot buffer).
      if (restore) fs = restore(fs!, { quota: vaultQuota(m) });
      const largest = Math.max(...chain.map((c) => c.record.manifestBytes));
      const last = chain.at(-1)!.record;
      setBasis(fs!, { base: fs!.fork(), head: id, manifestHash: last.manifestHash, depth: last.depth, chainBytes: chain.slice(1).reduce((n, c) => n + c.record.manifestBytes, 0), largest });
      return fs!;
    } catch (e) {
      damaged(this.name, e);
    }
  }

  /**
   * Names the vault's current state: its head checkpoint's id (and the quota it is loaded with). A
   * save by anyone moves the head, so this changes; reading it is one small file.
   */
  stateId(): string {
    const m = this.meta();
    if (this.isOld(m)) {
      const st = statSync(join(this.dir, 'state.snap'), { bigint: true });
      return `snap:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${JSON.stringify(m.quota ?? {})}`;
    }
    return `${this.head(m)}:${JSON.stringify(m.quota ?? {})}`;
  }

  /**
   * The tree was mounted (moved onto the serving thread) after it was loaded: its next delta is taken
   * against a base over there, where the tree now lives.
   */
  adopted(fs: InodeFs): void {
    const b = bases.get(fs);
    if (b) setBasis(fs, { ...b, base: fs.fork() });
  }

  /** Saves the tree as the vault's new head: the chunks the store lacks and, mostly, a delta manifest. */
  save(fs: InodeFs): SaveStats {
    this.migrate();
    const m = this.meta();
    const head = this.head(m);
    let stats: SaveStats;
    try {
      stats = this.commitTree(this.ws(m), fs, head, null);
    } catch (e) {
      damaged(this.name, e);
    }
    m.updatedAt = new Date().toISOString();
    this.writeMeta(m);
    return stats;
  }

  /**
   * Exports `fs` (a delta against what it was loaded or last saved as, when that is `head`), writes
   * the chunks the store lacks, and moves the head from `head` (compare-and-set).
   */
  private commitTree(workspace: string, fs: InodeFs, head: string | null, name: string | null): SaveStats {
    const store = vaultStore();
    const b = bases.get(fs);
    const delta = b && head !== null && b.head === head && b.depth + 1 < MAX_DEPTH && b.chainBytes < 2 * b.largest + CHAIN_SLACK ? b : null;
    // Only the fork and the export run on the engine (the serving thread, when mounted): O(change).
    // The state saved is a fork taken first, which is also the next delta's base: a mounted tree
    // changes while the save writes (FUSE is served meanwhile), and a base forked after the export
    // would hold changes the saved state lacks, which the next delta would then leave out.
    const tx = performance.now();
    const state = fs.fork();
    // Chunks of a lazy load not fetched yet are referenced by hash: the store has them already.
    let exp: OpenExport;
    try {
      exp = state.openExport(delta ? { since: delta.base, parentId: delta.manifestHash } : {});
    } catch (e) {
      dropBase(state);
      throw e;
    }
    const engineMs = performance.now() - tx;
    let record: CheckpointRecord;
    let put: { chunks: number; bytes: number };
    try {
      put = writeChunks(store, exp);
      for (let attempt = 1; ; attempt++) {
        try {
          record = store.commitSync({
            workspace,
            id: randomUUID(),
            parent: delta ? delta.head : null,
            depth: delta ? delta.depth + 1 : 0,
            manifest: exp.manifest,
            refs: [...exp.chunks.map(([h]) => h), ...exp.unfetched],
            expectedHead: head,
            ...(name ? { name } : {}),
          });
          break;
        } catch (e) {
          // A GC between our upload and our commit took a chunk we found already there: send it again.
          // (A chunk never fetched cannot be sent again: that error stands.)
          const ours = new Set(exp.chunks.map(([h]) => h));
          if (!(e instanceof MissingChunkError) || attempt >= 10 || !e.hashes.every((h) => ours.has(h))) throw e;
          const again = store.putChunksSync(exp.read(e.hashes));
          put = { chunks: put.chunks + again.chunks, bytes: put.bytes + again.bytes };
        }
      }
    } catch (e) {
      dropBase(state);
      throw e;
    } finally {
      exp.close();
    }
    setBasis(fs, {
      base: state,
      head: record.id,
      manifestHash: record.manifestHash,
      depth: record.depth,
      chainBytes: delta ? delta.chainBytes + exp.manifest.length : 0,
      largest: delta ? Math.max(delta.largest, exp.manifest.length) : exp.manifest.length,
    });
    return { checkpoint: record.id, kind: delta ? 'delta' : 'full', chunks: put.chunks, chunkBytes: put.bytes, manifestBytes: exp.manifest.length, engineMs };
  }

  /** Bytes of the saved state's manifests (old format: of state.snap); chunks are shared and not counted. */
  savedBytes(): number {
    const m = this.meta();
    if (this.isOld(m)) return statSync(join(this.dir, 'state.snap')).size;
    return vaultStore().chainSync(this.head(m)).reduce((n, c) => n + c.record.manifestBytes, 0);
  }

  /** The head checkpoint's id (null for an old-format vault). */
  headId(): string | null {
    const m = this.meta();
    return this.isOld(m) ? null : this.head(m);
  }

  /** A named checkpoint's id (null for an old-format vault); exit 3 if there is none of that name. */
  checkpointId(name: string): string | null {
    const m = this.meta();
    if (!m.checkpoints[name]) throw this.noCheckpoint(name, m);
    return m.checkpoints[name]!.id ?? null;
  }

  private noCheckpoint(name: string, m: VaultMeta): VaultError {
    return new VaultError(`vault '${this.name}' has no checkpoint '${name}' (have: ${Object.keys(m.checkpoints).join(', ') || 'none'})`, 3);
  }

  /** Names the vault's current saved state (no copy): `vws checkpoint save`. */
  saveHeadCheckpoint(name: string): void {
    Vault.checkName(name);
    this.migrate();
    const m = this.meta();
    this.nameCheckpoint(name, this.head(m), m);
  }

  /** Names the state `fs` is in: a pointer to the head when fs is what was last loaded or saved, else saved first. */
  saveCheckpoint(name: string, fs: InodeFs): void {
    Vault.checkName(name);
    this.migrate();
    let m = this.meta();
    const head = this.head(m);
    const b = bases.get(fs);
    let id = head;
    if (!b || b.head !== head || !sameState(fs, b.base)) {
      id = this.save(fs).checkpoint;
      m = this.meta();
    }
    this.nameCheckpoint(name, id!, m);
  }

  private nameCheckpoint(name: string, id: string, m: VaultMeta): void {
    const store = vaultStore();
    try {
      // In the store first (it keeps the state from GC), then in meta.json (where it becomes visible).
      store.setNameSync(this.ws(m), name, id);
      m.checkpoints[name] = { createdAt: new Date().toISOString(), bytes: store.checkpointSync(this.ws(m), id).manifestBytes, id };
    } catch (e) {
      damaged(this.name, e);
    }
    this.writeMeta(m);
  }

  /** The checkpoint a bare `diff` or `patch` compares with: the newest; a clear error if none. */
  newestCheckpoint(): string {
    const newest = Object.entries(this.meta().checkpoints).sort((a, b) => a[1].createdAt.localeCompare(b[1].createdAt)).at(-1)?.[0];
    if (!newest) throw new VaultError(`vault '${this.name}' has no checkpoint to compare with (save one: vws checkpoint save NAME)`, 3);
    return newest;
  }

  /** Checkpoints loaded by this command: a retried read (withFetching) finds the chunks it fetched. */
  private readonly checkpointTrees = new Map<string, InodeFs>();

  /** A named checkpoint's tree (do not change it: the same engine is given to every call). */
  loadCheckpoint(name: string): InodeFs {
    let fs = this.checkpointTrees.get(name);
    if (!fs) this.checkpointTrees.set(name, (fs = this.loadCheckpointFresh(name)));
    return fs;
  }

  private loadCheckpointFresh(name: string): InodeFs {
    Vault.checkName(name);
    const m = this.meta();
    const c = m.checkpoints[name];
    if (!c) throw this.noCheckpoint(name, m);
    if (this.isOld(m)) {
      const path = join(this.dir, 'checkpoints', `${name}.snap`);
      if (!existsSync(path)) throw this.noCheckpoint(name, m);
      return this.readSnap(path, m);
    }
    return this.loadId(c.id!, m);
  }

  /** Sets the limits later loads use (under the vault's lock, like every write). */
  setQuota(quota: Partial<Quota>): void {
    const m = this.meta();
    m.quota = { ...m.quota, ...quota };
    this.writeMeta(m);
  }

  deleteCheckpoint(name: string): void {
    this.migrate();
    const m = this.meta();
    if (!m.checkpoints[name]) throw new VaultError(`vault '${this.name}' has no checkpoint '${name}'`, 3);
    delete m.checkpoints[name];
    this.writeMeta(m);
    vaultStore().setNameSync(this.ws(m), name, null);
  }

  /** A new vault `to` with this vault's saved state and quota: shares every chunk (nothing copied). */
  fork(to: string): Vault {
    this.migrate();
    const m = this.meta();
    const head = this.head(m);
    const v = Vault.prepare(to);
    const workspace = randomUUID();
    vaultStore().forkSync(head, workspace);
    const now = new Date().toISOString();
    v.writeMeta({ format: 2, name: to, workspace, createdAt: now, updatedAt: now, checkpoints: {}, ...(m.quota ? { quota: m.quota } : {}) });
    return v;
  }

  remove(): void {
    const m = this.meta();
    // meta.json first: from then on the vault does not exist, whatever else a crash leaves.
    rmSync(this.metaPath, { force: true });
    if (!this.isOld(m)) vaultStore().dropWorkspaceSync(this.ws(m));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * An old vault (state.snap, checkpoints/*.snap) moves into the store: each checkpoint, then the
   * tree as the head, then meta.json says format 2 (the switch), then the old files go. Killed midway,
   * the vault is still the old one and the next write starts over.
   */
  private migrate(): void {
    const m = this.meta();
    if (!this.isOld(m)) return;
    const store = vaultStore();
    // Named by the vault's identity, so a migration cut short is replaced, not left behind.
    const workspace = createHash('sha256').update(`${this.dir}\0${m.createdAt}`).digest('hex').slice(0, 32);
    store.dropWorkspaceSync(workspace);
    let head: string | null = null;
    const checkpoints: VaultMeta['checkpoints'] = {};
    try {
      for (const [name, c] of Object.entries(m.checkpoints)) {
        const path = join(this.dir, 'checkpoints', `${name}.snap`);
        if (!existsSync(path)) continue;
        head = this.commitTree(workspace, this.readSnap(path, m), head, name).checkpoint;
        checkpoints[name] = { ...c, id: head };
      }
      this.commitTree(workspace, this.readSnap(join(this.dir, 'state.snap'), m), head, null);
    } catch (e) {
      damaged(this.name, e);
    }
    this.writeMeta({ ...m, format: 2, workspace, checkpoints });
    rmSync(join(this.dir, 'state.snap'), { force: true });
    rmSync(join(this.dir, 'checkpoints'), { recursive: true, force: true });
  }

  /** Runs fn holding this vault's lock; a second process waits up to waitMs, then fails clearly. */
  async locked<T>(fn: () => Promise<T> | T, waitMs = Number(process.env.VWS_LOCK_WAIT_MS ?? 10_000)): Promise<T> {
    let release: () => Promise<void>;
    // proper-lockfile's lock is a directory beside the vault's: anything else there (a file, a FIFO, a
    // link) it would wait on, then fail to remove. Damage: said at once.
    const lock = `${this.dir}.lock`;
    const st = lstatSync(lock, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new VaultError(`${lock}: is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}, where the vault's lock directory belongs (repair: remove it if no vws process is running)`, 4);
    try {
      // A lock whose holder died (kill -9) goes stale after 2 s: its holder refreshes it every second.
      release = await lockfile.lock(this.dir, { stale: 2_000, update: 1_000, retries: { retries: Math.max(0, Math.ceil(waitMs / 100)), minTimeout: 100, maxTimeout: 100, factor: 1 }, realpath: false });
    } catch (e) {
      if ((e as { code?: string }).code === 'ELOCKED') throw new VaultError(`vault '${this.name}' is in use by another vws process (waited ${waitMs} ms); try again when it has finished`, 5);
      throw e;
    }
    try {
      return await fn();
    } finally {
      await release();
    }
  }
}

/** A save writes the chunks the store lacks this many bytes at a time (read, written, let go). */
const SAVE_BATCH_BYTES = 32 * 1024 * 1024;

/** Writes the chunks of an export that the store lacks, one batch at a time. */
function writeChunks(store: DiskStore, exp: OpenExport): { chunks: number; bytes: number } {
  const length = new Map(exp.chunks);
  const lacking = store.lackingChunksSync(exp.chunks);
  const put = { chunks: 0, bytes: 0 };
  for (let i = 0; i < lacking.length; ) {
    const batch: string[] = [];
    for (let bytes = 0; i < lacking.length && (batch.length === 0 || bytes + length.get(lacking[i]!)! <= SAVE_BATCH_BYTES); i++) {
      batch.push(lacking[i]!);
      bytes += length.get(lacking[i]!)!;
    }
    const r = store.putChunksSync(exp.read(batch));
    put.chunks += r.chunks;
    put.bytes += r.bytes;
  }
  return put;
}

/** Whether two states are equal (a lazy tree's fingerprint would need every byte: fetched if need be). */
function sameState(a: InodeFs, b: InodeFs): boolean {
  try {
    return a.fingerprint() === b.fingerprint();
  } catch (e) {
    if (e instanceof ChunkNotFetchedError) return false; // saved again: a checkpoint of the same state
    throw e;
  }
}

/**
 * Runs fn on a tree loaded here (not mounted), fetching the chunks it reads: an engine read of a
 * chunk not fetched yet throws ChunkNotFetchedError and changes nothing, so when fn had changed
 * nothing before that read, the chunks are fetched and fn runs again (commands print only at their
 * end: nothing is said twice). A command that changes the tree and then reads (cp) prefetches what it
 * reads first (prefetchQuietly).
 */
export async function withFetching<T>(vault: Vault, fs: InodeFs, fn: () => Promise<T> | T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const version = fs.version;
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ChunkNotFetchedError) || attempt >= 8 || fs.version !== version) throw e;
      await e.fetch().catch((f: unknown) => damaged(vault.name, f)); // a damaged or missing chunk: exit 4
    }
  }
}

/** Fetches the chunks under `path` ahead of a command that reads them; a bad path is left to the command to report. */
export async function prefetchQuietly(fs: InodeFs, path: string): Promise<void> {
  try {
    await fs.prefetch(path);
  } catch (e) {
    if ((e as Error).name !== 'FsError') throw e;
  }
}

export interface SaveStats {
  checkpoint: string;
  kind: 'full' | 'delta';
  /** Chunks written (those the store lacked) and their bytes. */
  chunks: number;
  chunkBytes: number;
  manifestBytes: number;
  /** Time the save held the engine (export and fork; on the serving thread when mounted). */
  engineMs: number;
}

/**
 * Drops store data no vault reaches: workspaces of vaults that are gone (older than retainMs, so a
 * vault being created is spared), then unreferenced checkpoints and chunks. Run under no vault lock:
 * the store's own lock makes it safe beside saves.
 */
export function gcVaults(retainMs: number): { checkpoints: number; chunks: number; bytes: number; workspaces: number } {
  const store = vaultStore();
  const live = new Set<string>();
  for (const name of Vault.list()) {
    const m = Vault.open(name).meta();
    if (m.workspace) live.add(m.workspace);
  }
  let workspaces = 0;
  const wsRoot = join(store.root, 'workspaces');
  for (const ws of store.workspacesSync()) {
    if (live.has(ws)) continue;
    const st = lstatSync(join(wsRoot, Buffer.from(ws).toString('base64url'), 'refs.json'), { throwIfNoEntry: false });
    if (st && st.mtimeMs < Date.now() - Math.max(retainMs, 60_000)) {
      store.dropWorkspaceSync(ws);
      workspaces++;
    }
  }
  return { ...store.gcSync({ retainMs }), workspaces };
}

/** The vault commands act on: --vault, else $VWS_VAULT, else the one `vws vault use` chose. */
export function currentVaultName(flag?: string): string {
  if (flag) return flag;
  if (process.env.VWS_VAULT) return process.env.VWS_VAULT;
  const file = join(vwsHome(), 'current');
  if (existsSync(file)) return readRegular(file, 4096).toString('utf8').trim();
  throw new VaultError('no vault selected: pass --vault NAME, or run: vws vault use NAME', 2);
}

export function useVault(name: string): void {
  Vault.open(name);
  mkdirSync(vwsHome(), { recursive: true });
  atomicWrite(join(vwsHome(), 'current'), name);
}
