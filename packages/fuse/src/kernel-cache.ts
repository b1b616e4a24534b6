// What the kernel may have cached, and the invalidations that keep it true to the engine.
//
// The kernel caches entries, attributes, pages and directory listings (with long timeouts: that is
// where the speed comes from). Changes made through FUSE requests update those caches by the
// kernel's own rules; changes made through the engine API (or a checkpoint restore) do not, so we
// tell the kernel, but only about inodes it holds (lookup counts from our replies minus its
// forgets) and names it may have cached (positive and negative entries we replied with).

import { ROOT_INO, type ChangeEvent, type InodeFs } from '@vws/inode-fs';

/** Negative entries tracked at most (past that, misses are not cached: memory stays bounded). */
const MAX_NEGATIVES = 65_536;

export interface Invalidator {
  /** Queues invalidations; returns the sequence number they complete at (-1: not connected). */
  invalidate(inodes: number[], entries: Array<[number, string]>): number;
}

export class KernelCache {
  private readonly lookups = new Map<number, number>();
  private readonly names = new Map<number, Array<[number, string]>>();
  private readonly negatives = new Map<number, Set<string>>();
  private negativeCount = 0;
  private pendingInodes = new Set<number>();
  private pendingEntries = new Map<string, [number, string]>();
  private flushQueued = false;
  /** Sequence number the last queued invalidation completes at. */
  lastSeq = 0;

  /** Inodes we hold in the engine for the kernel (alive while it references them, even unlinked). */
  private readonly held = new Set<number>();

  constructor(
    private readonly fs: InodeFs,
    private readonly sink: Invalidator,
  ) {}

  /** An entry reply: the kernel now holds one more reference to `ino` and may cache parent/name. */
  remember(ino: number, parent: number | undefined, name: string): void {
    const count = this.lookups.get(ino) ?? 0;
    this.lookups.set(ino, count + 1);
    if (count === 0 && ino !== ROOT_INO && !this.held.has(ino)) {
      this.fs.hold(ino);
      this.held.add(ino);
    }
    if (parent === undefined) return;
    const list = this.names.get(ino);
    if (!list) this.names.set(ino, [[parent, name]]);
    else if (!list.some(([p, n]) => p === parent && n === name)) list.push([parent, name]);
  }

  /** A negative entry reply; false when the bound is reached (then the miss must not be cached). */
  rememberMissing(parent: number, name: string): boolean {
    let set = this.negatives.get(parent);
    if (set?.has(name)) return true;
    if (this.negativeCount >= MAX_NEGATIVES) return false;
    if (!set) this.negatives.set(parent, (set = new Set()));
    set.add(name);
    this.negativeCount++;
    return true;
  }

  /** The kernel dropped `n` references (FORGET). */
  forget(ino: number, n: number): void {
    const left = (this.lookups.get(ino) ?? 0) - n;
    if (left > 0) {
      this.lookups.set(ino, left);
      return;
    }
    this.lookups.delete(ino);
    this.names.delete(ino);
    if (this.held.delete(ino)) this.fs.unhold(ino);
    // Negative children live under their parent's dentry: gone with it.
    const neg = this.negatives.get(ino);
    if (neg) {
      this.negativeCount -= neg.size;
      this.negatives.delete(ino);
    }
  }

  /**
   * The mount is gone (unmounted, detached, connection closed): the kernel references nothing any
   * more, and sends no FORGET for what it held. Lets go of every hold, so inodes unlinked while the
   * kernel knew them leave the engine (and its usage) now, not never: the engine outlives the mount
   * (the exec daemon mounts the same engine for the next exec).
   */
  releaseAll(): void {
    const held = [...this.held];
    this.held.clear();
    this.lookups.clear();
    this.names.clear();
    this.negatives.clear();
    this.negativeCount = 0;
    for (const ino of held) {
      try {
        this.fs.unhold(ino);
      } catch {
        // gone already (a reset replaced the state)
      }
    }
  }

  /** Drops the kernel's cached pages and attributes of `ino` once the current request is answered. */
  invalidateLater(ino: number): void {
    this.pendingInodes.add(ino);
    this.schedule();
  }

  /** One batch per synchronous run of changes (duplicates collapse), handed over in a microtask. */
  private schedule(): void {
    if (this.flushQueued || (this.pendingInodes.size === 0 && this.pendingEntries.size === 0)) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  knows(ino: number): boolean {
    return ino === ROOT_INO || this.lookups.has(ino);
  }

  /** Inodes the kernel holds (for tests and diagnostics). */
  get heldInodes(): number {
    return this.lookups.size;
  }

  /** An engine change made outside a FUSE request. */
  onChange(ev: ChangeEvent): void {
    if (ev.type === 'inode') {
      if (this.knows(ev.ino)) this.pendingInodes.add(ev.ino);
    } else if (ev.type === 'entry') {
      if (!this.knows(ev.parentIno)) return;
      this.pendingEntries.set(`${ev.parentIno}/${ev.name}`, [ev.parentIno, ev.name]);
      this.pendingInodes.add(ev.parentIno); // attributes and the cached listing
    } else {
      // A whole new state: everything the kernel holds may be wrong.
      this.pendingInodes.add(ROOT_INO);
      for (const ino of this.lookups.keys()) this.pendingInodes.add(ino);
      for (const list of this.names.values()) for (const [p, n] of list) this.pendingEntries.set(`${p}/${n}`, [p, n]);
      for (const [p, set] of this.negatives) for (const n of set) this.pendingEntries.set(`${p}/${n}`, [p, n]);
      this.negatives.clear();
      this.negativeCount = 0;
      // The new state starts without holds: hold again what the kernel still references there.
      this.held.clear();
      for (const ino of this.lookups.keys()) {
        if (ino === ROOT_INO) continue;
        try {
          this.fs.hold(ino);
          this.held.add(ino);
        } catch {
          // Not in this state: the kernel will learn it is gone (ENOENT) and forget it.
        }
      }
    }
    this.schedule();
  }

  /** Hands what is pending to the kernel side now; returns the sequence to wait for. */
  flush(): number {
    this.flushQueued = false;
    if (this.pendingInodes.size === 0 && this.pendingEntries.size === 0) return this.lastSeq;
    const inodes = [...this.pendingInodes];
    const entries = [...this.pendingEntries.values()];
    this.pendingInodes = new Set();
    this.pendingEntries = new Map();
    const seq = this.sink.invalidate(inodes, entries);
    if (seq >= 0) this.lastSeq = seq;
    return this.lastSeq;
  }
}
