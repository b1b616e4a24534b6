// A lock between processes on one machine, usable synchronously: a file created exclusively that names
// its holder's pid. A holder killed with -9 leaves the file behind; the next taker sees that pid is gone
// and breaks it. Held only for short metadata steps (a commit, a lease, GC's sweep), never across I/O
// of unknown length.

import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { readRegular } from './safe-file.js';
import { StoreUnavailableError } from './errors.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleepSync = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** The holder a lock file names; null when it is gone. Read safely: a lock that is no regular file
 * (a FIFO, a link, a directory) is damage, said at once (a plain read would block, or never end). */
function readHolder(path: string): string | null {
  try {
    return readRegular(path, 4096).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Runs fn holding the lock at `path`; waits up to waitMs for another holder, then StoreUnavailableError. */
export function withFileLock<T>(path: string, fn: () => T, waitMs = 10_000): T {
  const mine = `${process.pid} ${randomUUID()}`;
  const deadline = Date.now() + waitMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, mine);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(path);
    // An empty file: its taker is between create and write, or died there (then it ages).
    if (holder !== null && (holder === '' ? ageMs(path) > 2_000 : !alive(Number(holder.split(' ')[0])))) breakStale(path, holder);
    else if (Date.now() >= deadline) throw new StoreUnavailableError(`${path} is held by pid ${holder?.split(' ')[0] ?? '?'} (waited ${waitMs} ms)`);
    else sleepSync(delay);
  }
  try {
    return fn();
  } finally {
    let holder: string | null = null;
    try {
      holder = readHolder(path);
    } catch {
      // damaged meanwhile: not ours to remove
    }
    if (holder === mine) rmSync(path, { force: true });
  }
}

/** Throws StoreDamagedError when the lock at `path` exists but is no regular file (none cannot be taken). */
export function checkLock(path: string): void {
  readHolder(path);
}

/** Moves a dead holder's lock aside; if what moved was a fresh lock taken meanwhile, puts it back. */
function breakStale(path: string, seen: string): void {
  const aside = `${path}.dead-${process.pid}-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke it first
  }
  if (readHolder(aside) !== seen) {
    try {
      linkSync(aside, path);
    } catch {
      // a third taker has it now: theirs stands
    }
  }
  rmSync(aside, { force: true });
}
