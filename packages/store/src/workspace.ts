// A workspace opened from a store: the engine state rebuilt from the head's manifests, and saves that
// send only what changed since the last save (a delta manifest and the chunks it references), moving
// the head by compare-and-set. Nothing in the engine changes when a save fails.
//
// Opening is lazy: the manifests are read and every chunk stays a ref (hash and length) until
// something reads it, then it is fetched (batched) from the store. A tree whose chunks total at most
// `prefetchBytes` is fetched whole at open, since one round trip costs less than many small ones.

import { randomUUID } from 'node:crypto';
import { InodeFs, LazyChunks, type InodeFsOptions, type LazyStats } from '@vws/inode-fs';
import { LeaseLostError, ManifestHashMismatchError, MissingChunkError, StoreConfigError } from './errors.js';
import { sha256 } from './hash.js';
import type { CheckpointRecord, Lease, Store } from './store.js';

export interface OpenOptions {
  /**
   * Hold the workspace's lease while open (renewed in the background); false opens without one
   * (read-only use, or writers that rely on compare-and-set alone).
   */
  lease?: { holder: string; ttlMs?: number; waitMs?: number } | false;
  /** Open this checkpoint (a name or id) instead of the head; saves still compare-and-set the head. */
  checkpoint?: string;
  /** Write a full manifest after this many deltas, bounding restore work (default 16). */
  fullEvery?: number;
  /** Engine options (quota, clock, uid/gid) for the restored state. */
  engine?: InodeFsOptions;
  /**
   * Fetch chunks on first read (default true) instead of all at open. Synchronous engine reads of a
   * chunk not fetched yet throw ChunkNotFetchedError: `await ws.prefetch(path)`, or wrap the call in
   * `fetching(() => ...)` (InodeFilesystem does this for every read).
   */
  lazy?: boolean;
  /** A lazy open fetches everything at once when the tree's chunks total at most this (default 8 MiB). */
  prefetchBytes?: number;
}

export const DEFAULT_PREFETCH_BYTES = 8 * 1024 * 1024;

export interface SaveResult {
  checkpoint: CheckpointRecord;
  kind: 'full' | 'delta';
  /** Chunks and their bytes sent (those the store did not have). */
  chunksSent: number;
  chunkBytesSent: number;
  manifestBytes: number;
}

export interface OpenResult {
  /** Chunks fetched to open (all of them unless lazy; none when lazy and over prefetchBytes). */
  chunks: number;
  bytes: number;
  manifests: number;
  /** Chunks left to fetch on first read. */
  unfetched: number;
}

const DEFAULT_TTL = 30_000;

export class StoredWorkspace {
  /** The live state: hand it to `new InodeFilesystem({ fs: ws.engine })` or use it directly. */
  readonly engine: InodeFs;
  private renewTimer: NodeJS.Timeout | null = null;
  private lost: Error | null = null;
  private closed = false;

  private constructor(
    readonly store: Store,
    readonly id: string,
    /** The state as of the last save or open (frozen: a fork), the base of the next delta. */
    private saved: InodeFs | null,
    private headRecord: CheckpointRecord | null,
    private leaseHeld: Lease | null,
    private readonly ttlMs: number,
    private readonly fullEvery: number,
    readonly opened: OpenResult,
    engineOptions: InodeFsOptions,
    private readonly lazy: LazyChunks | null,
  ) {
    this.engine = saved ? saved.fork() : new InodeFs(engineOptions);
    if (leaseHeld) {
      this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(ttlMs / 3)));
      this.renewTimer.unref();
    }
  }

  static async open(store: Store, id: string, options: OpenOptions = {}): Promise<StoredWorkspace> {
    const fullEvery = options.fullEvery ?? 16;
    if (!Number.isInteger(fullEvery) || fullEvery < 1) throw new StoreConfigError(`fullEvery must be a positive integer, got ${fullEvery}`);
    const prefetchBytes = options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES;
    if (!(prefetchBytes >= 0)) throw new StoreConfigError(`prefetchBytes must be a number >= 0, got ${prefetchBytes}`);
    const ttlMs = (options.lease && options.lease.ttlMs) || DEFAULT_TTL;
    const lease = options.lease ? await store.acquireLease(id, options.lease.holder, { ttlMs, waitMs: options.lease.waitMs }) : null;
    try {
      const head = await store.head(id);
      const at = options.checkpoint ? await store.checkpoint(id, options.checkpoint) : head;
      const lazy = options.lazy === false ? null : new LazyChunks((hashes) => store.getChunks(hashes));
      const loaded = at ? await loadState(store, at.id, options.engine ?? {}, lazy ? { lazy, prefetchBytes } : undefined) : null;
      const opened = loaded?.stats ?? { chunks: 0, bytes: 0, manifests: 0, unfetched: 0 };
      // Saves base their delta on what was loaded but compare-and-set against the head seen now.
      const ws = new StoredWorkspace(store, id, loaded?.state ?? null, at, lease, ttlMs, fullEvery, opened, options.engine ?? {}, lazy);
      ws.expectedHead = head?.id ?? null;
      return ws;
    } catch (e) {
      if (lease) await store.releaseLease(lease).catch(() => {});
      throw e;
    }
  }

  /** The head this workspace will compare-and-set against on its next save. */
  private expectedHead: string | null = null;

  get head(): CheckpointRecord | null {
    return this.headRecord;
  }

  get lease(): Lease | null {
    return this.leaseHeld;
  }

  /** What lazy reads have fetched from the store since the open (loader calls, chunks, bytes). */
  get fetched(): LazyStats {
    return { ...(this.lazy?.stats ?? { calls: 0, chunks: 0, bytes: 0 }) };
  }

  /**
   * Fetches the chunks not fetched yet under `paths` (default: the whole tree), for synchronous use of
   * those files (engine reads, snapshot(), fingerprint(), a sync-mode export).
   */
  prefetch(paths?: string | string[]): Promise<{ chunks: number; bytes: number }> {
    return this.engine.prefetch(paths);
  }

  private async renew(): Promise<void> {
    if (!this.leaseHeld || this.lost) return;
    try {
      this.leaseHeld = await this.store.renewLease(this.leaseHeld, this.ttlMs);
    } catch (e) {
      // A lost lease is final; a store hiccup is retried at the next tick (the commit checks the lease).
      if (e instanceof LeaseLostError) this.lost = e;
    }
  }

  /**
   * Saves the engine's current state as a checkpoint and moves the head to it. Sends only the chunks
   * the store lacks and, after the first save, a delta manifest. On any error (HeadConflictError,
   * LeaseLostError, StoreUnavailableError...) the engine is untouched and the head unmoved.
   */
  save(options: { name?: string } = {}): Promise<SaveResult> {
    // The state as of this call (O(1)); saves run one at a time, each building on the one before.
    const state = this.engine.fork();
    const run = this.saving.then(() => this.saveNow(state, options));
    this.saving = run.catch(() => {});
    return run;
  }

  private saving: Promise<unknown> = Promise.resolve();

  private async saveNow(state: InodeFs, options: { name?: string }): Promise<SaveResult> {
    if (this.closed) throw new StoreConfigError(`workspace '${this.id}' is closed`);
    if (this.lost) throw this.lost;
    const base = this.saved && this.headRecord && this.headRecord.depth + 1 < this.fullEvery ? this.saved : null;
    // A delta names its parent by the parent manifest's hash, which the store keeps (and checks).
    // Chunks of a lazy open not fetched yet are referenced by hash: the store has them already.
    const { manifest, chunks, unfetched } = state.exportManifest(base ? { since: base, parentId: this.headRecord!.manifestHash } : {});
    let put = await this.store.putChunks(chunks);
    const commit = () => this.store.commit({
      workspace: this.id,
      id: randomUUID(),
      parent: base ? this.headRecord!.id : null,
      depth: base ? this.headRecord!.depth + 1 : 0,
      manifest,
      refs: [...chunks.keys(), ...unfetched],
      name: options.name,
      expectedHead: this.expectedHead,
      lease: this.leaseHeld ?? undefined,
    });
    let record: CheckpointRecord;
    for (let attempt = 1; ; attempt++) {
      try {
        record = await commit();
        break;
      } catch (e) {
        // GC may take a chunk the store already had (unreferenced, past retention) between our
        // upload and our commit; the commit refuses to reference it, so we send it again. (A GC
        // with no retention running back to back can do it several times in a row.)
        // (A chunk we never fetched cannot be sent again: that error stands.)
        if (!(e instanceof MissingChunkError) || attempt >= 10 || !e.hashes.every((h) => chunks.has(h))) throw e;
        const again = await this.store.putChunks(new Map(e.hashes.map((h) => [h, chunks.get(h)!])));
        put = { chunks: put.chunks + again.chunks, bytes: put.bytes + again.bytes };
      }
    }
    this.saved = state;
    this.headRecord = record;
    this.expectedHead = record.id;
    return { checkpoint: record, kind: base ? 'delta' : 'full', chunksSent: put.chunks, chunkBytesSent: put.bytes, manifestBytes: manifest.length };
  }

  /** Forks the last saved checkpoint into a new workspace (shares every chunk and manifest). */
  async fork(to: string): Promise<void> {
    if (!this.headRecord) throw new StoreConfigError(`workspace '${this.id}' has no checkpoint to fork: save first`);
    await this.store.fork(this.headRecord.id, to);
  }

  /** Stops renewing and releases the lease. The engine stays usable in memory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.leaseHeld && !this.lost) await this.store.releaseLease(this.leaseHeld);
  }
}

/**
 * Fetches a checkpoint's manifests and chunks, checks every hash, and rebuilds its state. With `lazy`,
 * only the manifests: chunks are fetched through it when read, or all at once when they total at
 * most `prefetchBytes`.
 */
export async function loadState(
  store: Store,
  checkpoint: string,
  options: InodeFsOptions = {},
  lazily?: { lazy: LazyChunks; prefetchBytes: number },
): Promise<{ state: InodeFs; stats: OpenResult }> {
  const chain = await store.chain(checkpoint);
  for (const { record, manifest } of chain) {
    const actual = sha256(manifest);
    if (actual !== record.manifestHash) throw new ManifestHashMismatchError(record.id, record.manifestHash, actual);
  }
  if (lazily) {
    let state: InodeFs | undefined;
    let parentId: string | undefined;
    for (const { record, manifest } of chain) {
      state = InodeFs.importManifest(manifest, { ...options, parent: state, parentId, lazy: lazily.lazy });
      parentId = record.manifestHash;
    }
    const refs = state!.unfetched();
    const total = refs.reduce((n, r) => n + r.length, 0);
    const fetched = total <= lazily.prefetchBytes ? await state!.prefetch() : { chunks: 0, bytes: 0 };
    return { state: state!, stats: { ...fetched, manifests: chain.length, unfetched: refs.length - fetched.chunks } };
  }
  const chunks = await store.getChunks(await store.refsOf(chain.map((c) => c.record.id)));
  let bytes = 0;
  for (const c of chunks.values()) bytes += c.length;
  const chunk = (hash: string): Uint8Array => chunks.get(hash)!;
  let state: InodeFs | undefined;
  let parentId: string | undefined;
  for (const { record, manifest } of chain) {
    state = InodeFs.importManifest(manifest, { ...options, parent: state, parentId, chunk });
    parentId = record.manifestHash;
  }
  return { state: state!, stats: { chunks: chunks.size, bytes, manifests: chain.length, unfetched: 0 } };
}

/** Opens a workspace from a store by id: `openFromStore(store, 'ws-1', { lease: { holder: 'worker-a' } })`. */
export function openFromStore(store: Store, id: string, options: OpenOptions = {}): Promise<StoredWorkspace> {
  return StoredWorkspace.open(store, id, options);
}
