// Which shadow directories changed since the last look, from inotify (Linux only: Node's fs.watch
// on a directory is one inotify watch on libuv's single inotify descriptor per thread, so all of
// them share one queue). It is exact, or says it is not (then the caller walks the whole tree):
// - complete: before a look, a sentinel file is written in a control directory watched on the same
//   descriptor, and the look waits for its event; the queue is FIFO, so every earlier event is in.
// - no overflow: the kernel drops events (and libuv drops its overflow notice) only once
//   max_queued_events are queued; fewer delivered since the last look means none was lost.
// - a directory gets its watch before it is read; one whose watch failed makes the look inexact.
// On macOS fs.watch does not report writes inside a watched directory: there, no watcher is used.

import { readFileSync, rmSync, unlinkSync, watch, writeFileSync, type FSWatcher, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { hostPath, removeAtExit, shadowRoot } from './shadow-dir.js';

/** Whether directory watching can be exact here. */
export const canWatch = process.platform === 'linux';

function maxQueued(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8')) || 16384;
  } catch {
    return 16384;
  }
}

// One control directory and event counter per process: every watcher shares libuv's queue.
let control: { dir: string; watcher: FSWatcher; waiting: Map<string, () => void> } | undefined;
let delivered = 0;
let seq = 0;
const LIMIT = Math.floor(maxQueued() / 2);

function controlDir() {
  if (control) return control;
  const dir = mkdtempSync(join(shadowRoot(), `vws-sync-${process.pid}-ctl-`));
  removeAtExit(dir);
  const waiting = new Map<string, () => void>();
  const watcher = watch(dir, { persistent: false }, (_ev, name) => {
    delivered++;
    const done = name ? waiting.get(String(name)) : undefined;
    if (done) {
      waiting.delete(String(name));
      done();
    }
  });
  control = { dir, watcher, waiting };
  return control;
}

export interface Look {
  /** Directories (relative paths) with an event since the last look. */
  dirs: Set<string>;
  /** False: events may be missing; walk everything. */
  exact: boolean;
}

export class DirWatch {
  private readonly watchers = new Map<string, { ino: bigint; w: FSWatcher }>();
  private dirty = new Set<string>();
  /** Directories that should be watched but are not (the watch failed). */
  private readonly missing = new Map<string, bigint>();
  private since = delivered;

  constructor(private readonly root: string) {}

  /** Watches a directory (relative path) whose inode is `ino`; a new inode there gets a new watch. */
  ensure(rel: string, ino: bigint): void {
    const had = this.watchers.get(rel);
    if (had?.ino === ino) return;
    had?.w.close();
    this.watchers.delete(rel);
    try {
      const w = watch(hostPath(rel === '' ? this.root : join(this.root, rel)), { persistent: false }, () => {
        delivered++;
        this.dirty.add(rel);
      });
      w.on('error', () => {
        this.watchers.delete(rel);
        this.missing.set(rel, ino);
      });
      this.watchers.set(rel, { ino, w });
      this.missing.delete(rel);
    } catch {
      // Out of watches (max_user_watches), or gone: looks are inexact until it is watched or gone.
      this.missing.set(rel, ino);
    }
  }

  /** Stops watching directories that are no longer there (keep(rel) false); retries failed watches. */
  prune(keep: (rel: string, ino: bigint) => boolean): void {
    for (const [rel, { ino, w }] of this.watchers) {
      if (keep(rel, ino)) continue;
      w.close();
      this.watchers.delete(rel);
    }
    for (const [rel, ino] of this.missing) {
      if (keep(rel, ino)) this.ensure(rel, ino);
      else this.missing.delete(rel);
    }
  }

  /** Waits until every event queued so far is delivered, then hands over what changed. */
  async look(timeoutMs = 2000): Promise<Look> {
    const c = controlDir();
    const name = `s${++seq}`;
    const arrived = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        c.waiting.delete(name);
        resolve(false);
      }, timeoutMs);
      c.waiting.set(name, () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    writeFileSync(join(c.dir, name), '');
    const inTime = await arrived;
    unlinkSync(join(c.dir, name));
    const out: Look = { dirs: this.dirty, exact: inTime && this.missing.size === 0 && delivered - this.since < LIMIT };
    this.dirty = new Set();
    this.since = delivered;
    return out;
  }

  close(): void {
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
    this.missing.clear();
  }
}

/** @internal tests: removes the control directory. */
export function closeControl(): void {
  control?.watcher.close();
  if (control) rmSync(control.dir, { recursive: true, force: true });
  control = undefined;
}
