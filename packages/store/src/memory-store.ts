// A Store in this process's memory: for tests and single-process use. Same contract as Postgres.

import { randomUUID } from 'node:crypto';
import { HeadConflictError, LeaseHeldError, LeaseLostError, MissingChunkError, NotFoundError, StoreError } from './errors.js';
import { sleep, verifyChunk } from './hash.js';
import { newRecord, type CheckpointRecord, type CommitInput, type GcOptions, type GcResult, type Lease, type LeaseOptions, type PutResult, type Store } from './store.js';

interface Chunk {
  bytes: Uint8Array;
  at: number;
}

export class MemoryStore implements Store {
  private chunks = new Map<string, Chunk>();
  private records = new Map<string, { record: CheckpointRecord; manifest: Uint8Array; refs: string[] }>();
  private heads = new Map<string, string | null>();
  private named = new Map<string, Map<string, string>>();
  private leases = new Map<string, Lease>();

  async putChunks(chunks: Map<string, Uint8Array>): Promise<PutResult> {
    let n = 0;
    let bytes = 0;
    for (const [hash, data] of chunks) {
      if (this.chunks.has(hash)) continue;
      verifyChunk(hash, data);
      this.chunks.set(hash, { bytes: Uint8Array.from(data), at: Date.now() });
      n++;
      bytes += data.length;
    }
    return { chunks: n, bytes };
  }

  async getChunks(hashes: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const missing: string[] = [];
    for (const hash of hashes) {
      const c = this.chunks.get(hash);
      if (!c) missing.push(hash);
      else {
        verifyChunk(hash, c.bytes);
        out.set(hash, c.bytes);
      }
    }
    if (missing.length) throw new MissingChunkError(missing);
    return out;
  }

  async commit(input: CommitInput): Promise<CheckpointRecord> {
    const actual = this.heads.get(input.workspace) ?? null;
    if (actual !== input.expectedHead) throw new HeadConflictError(input.workspace, input.expectedHead, actual);
    if (input.lease) this.checkLease(input.lease);
    const missing = input.refs.filter((h) => !this.chunks.has(h));
    if (missing.length) throw new MissingChunkError(missing);
    if (input.parent && !this.records.has(input.parent)) throw new NotFoundError(`checkpoint ${input.parent} (the parent) is not in the store`);
    const record = newRecord(input);
    this.records.set(input.id, { record, manifest: Uint8Array.from(input.manifest), refs: [...input.refs] });
    this.heads.set(input.workspace, input.id);
    if (input.name) this.namesOf(input.workspace).set(input.name, input.id);
    return record;
  }

  private namesOf(workspace: string): Map<string, string> {
    let m = this.named.get(workspace);
    if (!m) this.named.set(workspace, (m = new Map()));
    return m;
  }

  async head(workspace: string): Promise<CheckpointRecord | null> {
    const id = this.heads.get(workspace);
    return id ? this.records.get(id)!.record : null;
  }

  async checkpoint(workspace: string, nameOrId: string): Promise<CheckpointRecord> {
    const id = this.named.get(workspace)?.get(nameOrId) ?? nameOrId;
    const r = this.records.get(id);
    if (!r) throw new NotFoundError(`workspace '${workspace}' has no checkpoint named or numbered '${nameOrId}'`);
    return r.record;
  }

  async names(workspace: string): Promise<Map<string, string>> {
    return new Map(this.named.get(workspace) ?? []);
  }

  async chain(id: string): Promise<Array<{ record: CheckpointRecord; manifest: Uint8Array }>> {
    const out: Array<{ record: CheckpointRecord; manifest: Uint8Array }> = [];
    for (let at: string | null = id; at; ) {
      const r = this.records.get(at);
      if (!r) throw new NotFoundError(`checkpoint ${at} is not in the store`);
      out.push({ record: r.record, manifest: r.manifest });
      at = r.record.parent;
    }
    return out.reverse();
  }

  async refsOf(ids: string[]): Promise<string[]> {
    const all = new Set<string>();
    for (const id of ids) for (const h of this.records.get(id)?.refs ?? []) all.add(h);
    return [...all];
  }

  async fork(checkpoint: string, to: string): Promise<void> {
    if (!this.records.has(checkpoint)) throw new NotFoundError(`checkpoint ${checkpoint} is not in the store`);
    if (this.heads.has(to)) throw new StoreError(`workspace '${to}' already exists`);
    this.heads.set(to, checkpoint);
  }

  async acquireLease(workspace: string, holder: string, options: LeaseOptions): Promise<Lease> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
      const cur = this.leases.get(workspace);
      if (!cur || cur.expiresAt.getTime() <= Date.now()) {
        const lease = { workspace, holder, token: randomUUID(), expiresAt: new Date(Date.now() + options.ttlMs) };
        this.leases.set(workspace, lease);
        return { ...lease };
      }
      if (Date.now() >= deadline) throw new LeaseHeldError(workspace, cur.holder, cur.expiresAt);
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    }
  }

  private checkLease(lease: Lease): Lease {
    const cur = this.leases.get(lease.workspace);
    if (!cur || cur.token !== lease.token || cur.expiresAt.getTime() <= Date.now()) throw new LeaseLostError(lease.workspace, lease.holder);
    return cur;
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    const cur = this.checkLease(lease);
    cur.expiresAt = new Date(Date.now() + ttlMs);
    return { ...cur };
  }

  async releaseLease(lease: Lease): Promise<void> {
    if (this.leases.get(lease.workspace)?.token === lease.token) this.leases.delete(lease.workspace);
  }

  async gc(options: GcOptions): Promise<GcResult> {
    const cutoff = Date.now() - options.retainMs;
    const keep = new Set<string>();
    const roots: string[] = [];
    for (const id of this.heads.values()) if (id) roots.push(id);
    for (const m of this.named.values()) roots.push(...m.values());
    for (const { record } of this.records.values()) if (record.createdAt.getTime() > cutoff) roots.push(record.id);
    for (let at of roots) {
      for (let id: string | null = at; id && !keep.has(id); id = this.records.get(id)?.record.parent ?? null) keep.add(id);
    }
    let checkpoints = 0;
    for (const id of [...this.records.keys()]) {
      if (!keep.has(id)) {
        this.records.delete(id);
        checkpoints++;
      }
    }
    const used = new Set<string>();
    for (const r of this.records.values()) for (const h of r.refs) used.add(h);
    let chunks = 0;
    let bytes = 0;
    for (const [hash, c] of this.chunks) {
      if (!used.has(hash) && c.at <= cutoff) {
        this.chunks.delete(hash);
        chunks++;
        bytes += c.bytes.length;
      }
    }
    return { checkpoints, chunks, bytes };
  }

  async workspaces(): Promise<string[]> {
    return [...this.heads.keys()];
  }

  async close(): Promise<void> {}
}
