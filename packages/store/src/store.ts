// The store interface: what a place that keeps workspaces must do. Implementations: MemoryStore
// (tests, one process), DiskStore (a directory: the CLI's vaults) and PostgresStore
// (@vws/store-postgres). The checkpoint logic on top of it (export, upload, compare-and-set,
// restore) lives in workspace.ts, once for every implementation.

import { sha256 } from './hash.js';

/** One saved state of a workspace. Its manifest is full, or a delta against `parent`. */
export interface CheckpointRecord {
  id: string;
  /** The workspace that saved it (a fork's head may be a checkpoint of the workspace it came from). */
  workspace: string;
  /** The checkpoint a delta manifest was taken against; null for a full manifest. */
  parent: string | null;
  /** Deltas between this checkpoint and the nearest full one (0 for a full manifest). */
  depth: number;
  /** SHA-256 (hex) of the manifest bytes. */
  manifestHash: string;
  manifestBytes: number;
  /** Chunks the manifest references (for a delta: only the changed ones). */
  refs: number;
  createdAt: Date;
}

export interface CommitInput {
  workspace: string;
  id: string;
  parent: string | null;
  depth: number;
  manifest: Uint8Array;
  /** Hashes of every chunk the manifest references; all must already be in the store. */
  refs: string[];
  /** Also give the checkpoint this name in the workspace (replacing an earlier one of that name). */
  name?: string;
  /** Compare-and-set: the head the caller based this checkpoint on (null: the workspace is new). */
  expectedHead: string | null;
  /** When set, the commit is refused unless this lease is still held. */
  lease?: Lease;
}

export interface Lease {
  workspace: string;
  holder: string;
  token: string;
  expiresAt: Date;
}

export interface LeaseOptions {
  /** How long the lease lasts unless renewed (ms). */
  ttlMs: number;
  /** Wait up to this long for a held lease to be released or expire, then fail (default 0: fail at once). */
  waitMs?: number;
}

export interface GcOptions {
  /** Unnamed checkpoints and unreferenced chunks younger than this survive (ms). */
  retainMs: number;
}

export interface GcResult {
  checkpoints: number;
  chunks: number;
  bytes: number;
}

export interface PutResult {
  /** Chunks sent (those the store did not have). */
  chunks: number;
  bytes: number;
}

export interface Store {
  /** Stores the chunks the store does not already have (hash hex -> bytes). Idempotent. */
  putChunks(chunks: Map<string, Uint8Array>): Promise<PutResult>;
  /** The chunks' bytes, each checked against its hash (ChunkHashMismatchError, MissingChunkError). */
  getChunks(hashes: string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Records a checkpoint and moves the workspace head to it in one transaction, only if the head is
   * still `expectedHead` (HeadConflictError) and the lease, if given, is held (LeaseLostError).
   */
  commit(input: CommitInput): Promise<CheckpointRecord>;
  /** The workspace head, or null when the workspace does not exist or has no checkpoint. */
  head(workspace: string): Promise<CheckpointRecord | null>;
  /** A checkpoint by id, or by name within the workspace (NotFoundError). */
  checkpoint(workspace: string, nameOrId: string): Promise<CheckpointRecord>;
  /** Named checkpoints of a workspace. */
  names(workspace: string): Promise<Map<string, string>>;
  /** The manifests from the nearest full one up to `id`, in restore order. */
  chain(id: string): Promise<Array<{ record: CheckpointRecord; manifest: Uint8Array }>>;
  /** Every chunk hash the manifests of these checkpoints reference. */
  refsOf(ids: string[]): Promise<string[]>;
  /** A new workspace whose head is `checkpoint` (shared, not copied). Fails if `to` exists. */
  fork(checkpoint: string, to: string): Promise<void>;
  /** Takes the workspace's lease, or LeaseHeldError with who holds it until when. */
  acquireLease(workspace: string, holder: string, options: LeaseOptions): Promise<Lease>;
  /** Extends a lease still held (LeaseLostError otherwise). */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  releaseLease(lease: Lease): Promise<void>;
  /** Deletes checkpoints nothing retains and chunks nothing references; safe while others save. */
  gc(options: GcOptions): Promise<GcResult>;
  /** Every workspace id. */
  workspaces(): Promise<string[]>;
  close(): Promise<void>;
}

/** The record a commit makes (its time is now): one shape for every implementation. */
export function newRecord(input: CommitInput): CheckpointRecord {
  return { id: input.id, workspace: input.workspace, parent: input.parent, depth: input.depth, manifestHash: sha256(input.manifest), manifestBytes: input.manifest.length, refs: input.refs.length, createdAt: new Date() };
}
