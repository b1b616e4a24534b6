// The exec daemon's loaded trees: one engine per vault, reused while the vault's head is the one it
// was loaded from or last saved to (Vault.stateId). Used only under the vault's lock, so nobody
// writes the vault between the check and the use. A tree whose fate is uncertain (a run abandoned by
// its client, a failed save) is dropped, and the next exec loads the vault again.
//
// Memory is bounded: trees not in use are evicted, least recently used first, while the trees held
// add up to more than a byte budget (their usage: an upper bound, since a lazily loaded tree holds only
// what was read), and any tree unused for an idle time. An evicted tree's engine (and the base its
// next delta would be taken against) is released on the serving thread at once, so the memory goes
// back then, not at some later GC; its next exec loads it again.

import { totalmem } from 'node:os';
import type { InodeFs } from '@vws/inode-fs';
import { forgetTree, type Vault } from '../vault-store.js';

interface Entry {
  fs: InodeFs;
  id: string;
  usedAt: number;
  /** Runs using it now: never evicted meanwhile. */
  busy: number;
  bytes: number;
}

export interface CacheLimits {
  /** Trees not in use are evicted while those held add up to more than this (bytes of usage). */
  bytes: number;
  /** Trees unused for this long are evicted (ms). */
  idleMs: number;
}

/** VWS_DAEMON_CACHE_BYTES (default: a quarter of the host's memory), VWS_DAEMON_VAULT_IDLE_MS (default 5 minutes). */
export function cacheLimits(env: NodeJS.ProcessEnv = process.env): CacheLimits {
  const num = (v: string | undefined, fallback: number) => (v !== undefined && v !== '' && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : fallback);
  return { bytes: num(env.VWS_DAEMON_CACHE_BYTES, Math.floor(totalmem() / 4)), idleMs: num(env.VWS_DAEMON_VAULT_IDLE_MS, 300_000) };
}

export class VaultCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limits: CacheLimits = cacheLimits(),
    /** Lets go of an engine on the serving thread (@vws/fuse releaseEngine). */
    private readonly release: (fs: InodeFs) => void = () => {},
  ) {}

  /** The vault's tree for a run (the cached engine if the vault has not changed since, else a fresh load); `done` when the run ends. */
  get(vault: Vault, restore?: Parameters<Vault['load']>[0]): InodeFs {
    const id = vault.stateId();
    const hit = this.entries.get(vault.dir);
    if (hit && hit.id === id) {
      hit.usedAt = Date.now();
      hit.busy++;
      return hit.fs;
    }
    if (hit) this.forget(vault.dir, hit);
    // Room first (for what it will hold at most), then the load.
    this.trim();
    const fs = vault.load(restore);
    this.entries.set(vault.dir, { fs, id, usedAt: Date.now(), busy: 1, bytes: fs.usage().bytes });
    return fs;
  }

  /**
   * The run on the vault's tree `fs` ended: it may be evicted again, and if it was dropped meanwhile
   * (or replaced), it is let go now.
   */
  done(vault: Vault, fs: InodeFs): void {
    const e = this.entries.get(vault.dir);
    if (e?.fs === fs) e.busy = Math.max(0, e.busy - 1);
    else forgetTree(fs, this.release);
    this.trim();
  }

  /** Saves the tree and keeps it as the vault's state; forgets it if the save fails. */
  save(vault: Vault, fs: InodeFs): void {
    const e = this.entries.get(vault.dir);
    this.entries.delete(vault.dir);
    vault.save(fs);
    this.entries.set(vault.dir, { fs, id: vault.stateId(), usedAt: Date.now(), busy: e?.busy ?? 0, bytes: fs.usage().bytes });
  }

  /** Forgets the vault's tree (its fate is uncertain); released unless a run still uses it. */
  drop(vault: Vault): void {
    const e = this.entries.get(vault.dir);
    if (e) this.forget(vault.dir, e);
  }

  /** Evicts trees unused for idleMs, then the least recently used while over the byte budget. */
  trim(now = Date.now()): void {
    for (const [dir, e] of this.entries) if (!e.busy && e.usedAt < now - this.limits.idleMs) this.forget(dir, e);
    let held = this.heldBytes();
    for (const [dir, e] of [...this.entries].sort((a, b) => a[1].usedAt - b[1].usedAt)) {
      if (held <= this.limits.bytes) break;
      if (e.busy) continue;
      this.forget(dir, e);
      held -= e.bytes;
    }
  }

  /** Bytes of the trees held (their usage when last loaded or saved). */
  heldBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  private forget(dir: string, e: Entry): void {
    this.entries.delete(dir);
    if (e.busy) return; // let go when its run is done
    forgetTree(e.fs, this.release);
  }

  names(): string[] {
    return [...this.entries.keys()].map((dir) => dir.slice(dir.lastIndexOf('/') + 1));
  }
}
