// A consistency check of a whole store: every workspace head and named checkpoint restores, every
// manifest and chunk hashes to its key, no reference dangles. What the crash tests assert after kill -9.

import { loadState } from './workspace.js';
import type { Store } from './store.js';

export interface CheckReport {
  workspaces: number;
  /** Distinct checkpoints restored (heads and named ones). */
  checkpoints: number;
  /** Tree fingerprint of each workspace head. */
  heads: Map<string, string | null>;
}

/** Throws the first problem found (a typed StoreError or SnapshotError); returns what it checked. */
export async function checkStore(store: Store): Promise<CheckReport> {
  const heads = new Map<string, string | null>();
  const seen = new Set<string>();
  const ids = await store.workspaces();
  for (const ws of ids) {
    const head = await store.head(ws);
    const targets = [...(head ? [head.id] : []), ...(await store.names(ws)).values()];
    for (const id of targets) {
      if (seen.has(id)) continue;
      seen.add(id);
      // loadState checks manifest hashes, fetches and hashes every referenced chunk, and decodes.
      const { state } = await loadState(store, id);
      if (id === head?.id) heads.set(ws, state.fingerprint());
    }
    if (!head) heads.set(ws, null);
    else if (!heads.has(ws)) heads.set(ws, (await loadState(store, head.id)).state.fingerprint());
  }
  return { workspaces: ids.length, checkpoints: seen.size, heads };
}
