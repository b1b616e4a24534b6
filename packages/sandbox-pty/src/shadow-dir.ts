// Where sync mode's shadow directories live, and how they are cleaned up: on the fastest local
// filesystem available (/dev/shm where it exists, else the temp dir), 0700, named with the pid of
// the process that made them, removed on destroy, at exit, and (after a crash) by the next process
// that makes one.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameToBytes } from '@vws/inode-fs';
import { processAlive } from './process-alive.js';

const PREFIX = 'vws-sync-';

/** /dev/shm when it is a writable directory here (Linux), else the temp dir (macOS). */
export function shadowRoot(): string {
  try {
    if (process.platform === 'linux' && existsSync('/dev/shm') && statSync('/dev/shm').isDirectory()) {
      const probe = mkdtempSync(join('/dev/shm', `${PREFIX}probe-`));
      rmSync(probe, { recursive: true, force: true });
      return '/dev/shm';
    }
  } catch {
    // not writable: fall through
  }
  return tmpdir();
}

const owned = new Set<string>();
let hooked = false;

/** A fresh 0700 directory for a shadow, removed at process exit unless released before. */
export function makeShadowDir(): string {
  clearStaleShadows();
  const dir = mkdtempSync(join(shadowRoot(), `${PREFIX}${process.pid}-`)); // mkdtemp makes it 0700
  removeAtExit(dir);
  return dir;
}

/** A name for a shadow directory, made later (a sandbox makes its directory on first use): see claimShadowDir. */
export function shadowDirName(): string {
  return join(shadowRoot(), `${PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Makes a directory named by shadowDirName (0700), removed at process exit unless released before. */
export function claimShadowDir(dir: string): void {
  clearStaleShadows();
  mkdirSync(dir, { mode: 0o700 });
  removeAtExit(dir);
}

/** Removes `dir` when the process exits or is ended by SIGINT, SIGTERM or SIGHUP (destroy() normally does it first). */
export function removeAtExit(dir: string): void {
  owned.add(dir);
  if (hooked) return;
  hooked = true;
  const removeAll = () => {
    for (const d of owned) rmSync(d, { recursive: true, force: true });
    owned.clear();
  };
  process.on('exit', removeAll);
  // A shadow is in memory (/dev/shm): a Ctrl-C must not leave it until the next run clears it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      removeAll();
      // Keep the default behaviour (die by this signal) unless someone else handles it.
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export function forget(dir: string): void {
  owned.delete(dir);
}

let cleared = false;

/** Removes shadows left by processes that are gone (a crash skips the exit hook). Once per process. */
export function clearStaleShadows(): string[] {
  if (cleared) return [];
  cleared = true;
  const removed: string[] = [];
  for (const root of new Set([shadowRoot(), tmpdir()])) {
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
      if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
      const path = join(root, name);
      try {
        if (statSync(path).uid !== process.getuid?.()) continue; // not ours to remove
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        // raced with another cleaner
      }
    }
  }
  return removed;
}

const SURROGATE = /[\ud800-\udfff]/;

/** A host path for a workspace path string: as is, or as its bytes when it holds escaped (non-UTF-8) bytes. */
export function hostPath(p: string): string | Buffer {
  return SURROGATE.test(p) ? Buffer.from(nameToBytes(p)) : p;
}
