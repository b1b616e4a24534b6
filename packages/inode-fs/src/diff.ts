// What changed between two states. Both sides' inode tables are compared structurally, so shared
// history is skipped and the cost follows the change; paths come from the links index.

import type { Chunk } from './content.js';
import type { Inode, Kind } from './inode.js';
import { ROOT_INO, type InodeFs } from './inode-fs.js';
import { ChunkRef } from './lazy.js';
import { createHash } from 'node:crypto';

export interface Change {
  path: string;
  ino: number;
  kind: Kind;
  /** For renames: where the inode was before. */
  oldPath?: string;
}

export interface DiffResult {
  added: Change[];
  modified: Change[];
  deleted: Change[];
  renamed: Change[];
}

const live = (i: Inode | undefined): i is Inode => i !== undefined && (i.nlink > 0 || i.ino === ROOT_INO);

/**
 * Chunks compare by hash where one is not fetched (no fetch for a diff). A hole against an unfetched
 * chunk of zeros counts as a change (telling them apart would need the bytes).
 */
function sameChunk(a: Chunk | undefined, b: Chunk | undefined): boolean {
  if (a === b) return true;
  const ra = a instanceof ChunkRef && !a.bytes ? a : null;
  const rb = b instanceof ChunkRef && !b.bytes ? b : null;
  if (!ra && !rb) return sameBytes(a instanceof ChunkRef ? a.bytes : a, b instanceof ChunkRef ? b.bytes : b);
  if (ra && rb) return ra.hash === rb.hash;
  const bytes = (ra ? b : a) as Uint8Array | ChunkRef | null | undefined;
  if (!bytes) return false;
  const plain = bytes instanceof ChunkRef ? bytes.bytes! : bytes;
  return createHash('sha256').update(plain).digest('hex') === (ra ?? rb)!.hash;
}

function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) {
    // A missing chunk equals a chunk of zeros of any length.
    const x = a ?? b;
    const y = a ? b : a;
    if (!x) return true;
    if (!y) return x.every((v) => v === 0);
    const n = Math.max(x.length, y.length);
    for (let i = 0; i < n; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return false;
    return true;
  }
  return Buffer.compare(a, b) === 0;
}

/** Whether what a user would call the file changed: content, type, mode, owner, mtime, target, xattrs. */
function contentOrMetaChanged(a: Inode, b: Inode): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtime !== b.mtime || a.target !== b.target) return true;
  if (a.content !== b.content) {
    const ca = a.content!;
    const cb = b.content!;
    if (ca.size !== cb.size) return true;
    const n = Math.max(ca.chunks.length, cb.chunks.length);
    for (let i = 0; i < n; i++) if (!sameChunk(ca.chunks[i], cb.chunks[i])) return true;
  }
  return xattrsChanged(a, b);
}

function xattrsChanged(a: Inode, b: Inode): boolean {
  if (a.xattrs === b.xattrs) return false;
  const xa = a.xattrs ?? new Map();
  const xb = b.xattrs ?? new Map();
  if (xa.size !== xb.size) return true;
  for (const [k, v] of xa) if (!sameBytes(v, xb.get(k))) return true;
  return false;
}

function dirMetaChanged(a: Inode, b: Inode): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || xattrsChanged(a, b);
}

const byPath = (x: Change, y: Change): number => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0);

export function diffStates(before: InodeFs, after: InodeFs): DiffResult {
  const out: DiffResult = { added: [], modified: [], deleted: [], renamed: [] };
  before.inodes.diff(after.inodes, (key, a, b) => {
    const ino = key as number;
    if (ino === ROOT_INO) return;
    // An inode number reused by an unrelated state (other birth time) is another file.
    const same = !a || !b || a.btime === b.btime;
    const was = live(a);
    const now = live(b);
    if (was && now && !same) {
      for (const path of before.pathsOf(ino)) out.deleted.push({ path, ino, kind: a!.kind });
      for (const path of after.pathsOf(ino)) out.added.push({ path, ino, kind: b!.kind });
      return;
    }
    if (!was && now) {
      for (const path of after.pathsOf(ino)) out.added.push({ path, ino, kind: b!.kind });
    } else if (was && !now) {
      for (const path of before.pathsOf(ino)) out.deleted.push({ path, ino, kind: a!.kind });
    } else if (was && now) {
      const oldPaths = before.pathsOf(ino);
      const newPaths = after.pathsOf(ino);
      const gone = oldPaths.filter((p) => !newPaths.includes(p));
      const fresh = newPaths.filter((p) => !oldPaths.includes(p));
      // Pair a vanished name with a new one as a rename; the rest are link adds and removals.
      const pairs = Math.min(gone.length, fresh.length);
      for (let i = 0; i < pairs; i++) out.renamed.push({ path: fresh[i], oldPath: gone[i], ino, kind: b!.kind });
      for (const path of fresh.slice(pairs)) out.added.push({ path, ino, kind: b!.kind });
      for (const path of gone.slice(pairs)) out.deleted.push({ path, ino, kind: a!.kind });
      // A directory's mtime follows its entries (reported on their own); its mode, owner and xattrs are its own.
      if (b!.isDir ? dirMetaChanged(a!, b!) : contentOrMetaChanged(a!, b!)) {
        for (const path of newPaths) out.modified.push({ path, ino, kind: b!.kind });
      }
    }
  });
  // A name whose inode was replaced (write-to-temp-then-rename, as git and editors do) is a
  // modification of that path, not a deletion plus an addition.
  const deletedAt = new Map(out.deleted.map((c) => [c.path, c]));
  const replaced = out.added.filter((c) => {
    const gone = deletedAt.get(c.path);
    return gone !== undefined && gone.kind === c.kind && c.kind !== 'directory';
  });
  if (replaced.length) {
    const paths = new Set(replaced.map((c) => c.path));
    out.added = out.added.filter((c) => !paths.has(c.path));
    out.deleted = out.deleted.filter((c) => !paths.has(c.path));
    for (const c of replaced) if (!out.modified.some((m) => m.path === c.path)) out.modified.push(c);
  }
  out.added.sort(byPath);
  out.modified.sort(byPath);
  out.deleted.sort(byPath);
  out.renamed.sort(byPath);
  return out;
}
