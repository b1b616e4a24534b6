// What sync mode recorded of each shadow entry at the last sync: the host's stat (inode, size,
// mtime and ctime in ns, mode) and the engine inode it mirrors. A later host stat that differs
// means the entry changed; the same host inode at two paths is a hard link.

import type { BigIntStats } from 'node:fs';

export type HostKind = 'file' | 'dir' | 'link' | 'other';

export interface Rec {
  kind: HostKind;
  ino: bigint;
  btime: bigint;
  size: bigint;
  mtime: bigint;
  ctime: bigint;
  mode: number;
  nlink: number;
  /** The engine inode this entry mirrors. */
  eino: number;
  /** When it was recorded (ns since the epoch): a file written within the clock's tick of it may change unseen. */
  at: bigint;
}

export const kindOfStat = (st: BigIntStats): HostKind => (st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other');

/** File timestamps come from a coarse clock (a jiffy, up to 10 ms): a write that soon may keep the mtime. */
const RACY_NS = 50_000_000n;

export function recOf(st: BigIntStats, eino: number): Rec {
  return { kind: kindOfStat(st), ino: st.ino, btime: st.birthtimeNs, size: st.size, mtime: st.mtimeNs, ctime: st.ctimeNs, mode: Number(st.mode), nlink: Number(st.nlink), eino, at: BigInt(Date.now()) * 1_000_000n };
}

/** Whether a same-looking stat may still hide a change (recorded too close to the file's mtime). */
export const racy = (r: Rec): boolean => r.mtime + RACY_NS >= r.at;

export const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};
export const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
export const joinRel = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

/** The recorded tree: entries by relative path ('' is the root), children per directory, links per host inode. */
export class Recorded {
  readonly entries = new Map<string, Rec>();
  private readonly kids = new Map<string, Set<string>>();
  private readonly links = new Map<bigint, Set<string>>();

  get(p: string): Rec | undefined {
    return this.entries.get(p);
  }

  children(dir: string): ReadonlySet<string> {
    return this.kids.get(dir) ?? new Set();
  }

  set(p: string, r: Rec): void {
    const old = this.entries.get(p);
    if (old) this.unlinkIndex(p, old);
    this.entries.set(p, r);
    if (p !== '') this.kids.get(parentOf(p))?.add(baseOf(p));
    if (r.kind === 'dir' && !this.kids.has(p)) this.kids.set(p, new Set());
    if (r.kind !== 'dir') {
      let s = this.links.get(r.ino);
      if (!s) this.links.set(r.ino, (s = new Set()));
      s.add(p);
    }
  }

  /** Other recorded paths of the same host inode. */
  linksOf(ino: bigint, except: string): string[] {
    return [...(this.links.get(ino) ?? [])].filter((q) => q !== except);
  }

  /** Forgets an entry and everything under it. */
  drop(p: string): void {
    for (const q of this.subtree(p).reverse()) {
      const r = this.entries.get(q)!;
      this.unlinkIndex(q, r);
      this.entries.delete(q);
      this.kids.delete(q);
    }
    if (p !== '') this.kids.get(parentOf(p))?.delete(baseOf(p));
  }

  /** Re-keys an entry and everything under it from `from` to `to` (a rename). */
  move(from: string, to: string): void {
    const moved = this.subtree(from).map((q) => [q, this.entries.get(q)!] as const);
    this.drop(from);
    for (const [q, r] of moved) this.set(to + q.slice(from.length), r);
  }

  /** p and its descendants, parents first. */
  subtree(p: string): string[] {
    if (!this.entries.has(p)) return [];
    const out = [p];
    for (let i = 0; i < out.length; i++) for (const name of this.kids.get(out[i]!) ?? []) out.push(joinRel(out[i]!, name));
    return out;
  }

  clear(): void {
    this.entries.clear();
    this.kids.clear();
    this.links.clear();
  }

  private unlinkIndex(p: string, r: Rec): void {
    const s = this.links.get(r.ino);
    if (!s) return;
    s.delete(p);
    if (!s.size) this.links.delete(r.ino);
  }
}
