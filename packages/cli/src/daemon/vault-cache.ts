// The exec daemon's loaded trees: one engine per vault, reused while the vault's tree file is the one
// it was loaded from or last saved to (Vault.stateId). Used only under the vault's lock, so nobody
// writes the file between the check and the use. A tree whose fate is uncertain (a run abandoned by
// its client, a failed save) is dropped, and the next exec reads the file again.

import type { InodeFs } from '@vws/inode-fs';
import type { Vault } from '../vault-store.js';

interface Entry {
  fs: InodeFs;
  id: string;
  usedAt: number;
}

export class VaultCache {
  private readonly entries = new Map<string, Entry>();

  /** The vault's tree: the cached engine if the file has not changed since, else a fresh load. */
  get(vault: Vault, restore?: Parameters<Vault['load']>[0]): InodeFs {
    const id = vault.stateId();
    const hit = this.entries.get(vault.dir);
    if (hit && hit.id === id) {
      hit.usedAt = Date.now();
      return hit.fs;
    }
    this.entries.delete(vault.dir);
    const fs = vault.load(restore);
    this.entries.set(vault.dir, { fs, id, usedAt: Date.now() });
    return fs;
  }

  /** Saves the tree and keeps it as the file's version; forgets it if the save fails. */
  save(vault: Vault, fs: InodeFs): void {
    this.entries.delete(vault.dir);
    vault.save(fs);
    this.entries.set(vault.dir, { fs, id: vault.stateId(), usedAt: Date.now() });
  }

  drop(vault: Vault): void {
    this.entries.delete(vault.dir);
  }

  /** Forgets trees unused for idleMs (memory goes back once a vault is left alone). */
  evict(idleMs: number): void {
    const limit = Date.now() - idleMs;
    for (const [dir, e] of this.entries) if (e.usedAt < limit) this.entries.delete(dir);
  }

  names(): string[] {
    return [...this.entries.keys()].map((dir) => dir.slice(dir.lastIndexOf('/') + 1));
  }
}
