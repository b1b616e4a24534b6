// Mount lifecycle: a fresh 0700 directory (or the one given), stale mounts cleared first, unmount on
// unmount(), on process exit and on SIGINT/SIGTERM. Double unmount is harmless.
//
// IMPORTANT: nothing in the process that serves a mount may touch it synchronously (fs.*Sync on a
// path inside it, execFileSync, or child_process spawns whose cwd or binary lies inside it): the
// kernel waits for this process's event loop, which is blocked waiting for the kernel. Use async
// fs.promises calls, spawn with cwd outside the mount (`sh -c 'cd "$DIR" && ...'`), or a helper process.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { InodeFs } from '@vws/inode-fs';
import { fuseNativeDriver, type DriverMount, type KernelDriver } from './driver.js';
import { MountError } from './errors.js';
import { makeOps, type OpCounter } from './ops.js';
import { detach, isMountPoint, probe } from './stale.js';

export interface MountOptions {
  /** The kernel binding; fuse-native (libfuse 2) by default. */
  driver?: KernelDriver;
  /** Count requests per operation (for benchmarks and tests). */
  countOps?: boolean;
  /**
   * Let other users reach the mount (FUSE's allow_other; the kernel still checks modes). Off by
   * default: only the mounting user sees the files. Needs root or user_allow_other in /etc/fuse.conf.
   */
  allowOther?: boolean;
}

export interface Mount {
  /** The host path where the workspace is visible. */
  readonly path: string;
  readonly fs: InodeFs;
  readonly mounted: boolean;
  /** Requests per FUSE operation, when countOps was set. */
  readonly ops?: OpCounter;
  unmount(): Promise<void>;
}

/**
 * Kernel options, chosen for correctness first: no attribute, entry or negative caching (an API
 * write is seen by the very next command), no page cache kept across opens, our inode numbers
 * (hard links keep their identity), unlink at once (no .fuse_hidden files; the engine keeps an
 * unlinked open file alive itself), large writes, and nosuid,nodev.
 */
const KERNEL_OPTIONS = ['nosuid', 'nodev', 'use_ino', 'readdir_ino', 'hard_remove', 'attr_timeout=0', 'entry_timeout=0', 'negative_timeout=0', 'big_writes', 'max_write=131072', 'max_read=131072'];

const live = new Map<string, () => void>();
let handlersInstalled = false;

/** Synchronous last-chance unmount of everything this process mounted (exit and signal paths). */
function unmountAllSync(): void {
  for (const [path, forget] of live) {
    spawnSync('fusermount', ['-uz', path], { cwd: '/', stdio: 'ignore' });
    forget();
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', unmountAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      unmountAllSync();
      // Keep the default behaviour (die by this signal) unless someone else handles it.
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Mounts `fs` at `dir` (a fresh 0700 temp dir when omitted) and returns the handle. */
export async function mount(fs: InodeFs, dir?: string, options: MountOptions = {}): Promise<Mount> {
  const driver = options.driver ?? fuseNativeDriver();
  const ownDir = dir === undefined;
  const path = ownDir ? mkdtempSync(join(tmpdir(), 'vws-mnt-')) : resolve(dir);
  if (live.has(path)) throw new MountError('this process already serves a mount here', path);
  if (!ownDir) {
    // A mount left by a killed server answers ENOTCONN (or hangs): clear it before mounting again.
    if (isMountPoint(path)) {
      if ((await probe(path)) === 'stale') await detach(path);
      else throw new MountError('a live FUSE mount is already there', path);
    }
    await mkdir(path, { recursive: true, mode: 0o700 });
  }
  const counter: OpCounter | undefined = options.countOps ? new Map() : undefined;
  let handle: DriverMount;
  try {
    handle = await driver.mount(path, makeOps(fs, counter), options.allowOther ? [...KERNEL_OPTIONS, 'allow_other'] : KERNEL_OPTIONS);
  } catch (e) {
    if (ownDir) rmdirSync(path);
    throw new MountError(`mount failed: ${(e as Error).message}`, path);
  }
  installExitHandlers();
  let mounted = true;
  live.set(path, () => {
    mounted = false;
    live.delete(path);
  });
  let unmounting: Promise<void> | undefined;
  return {
    path,
    fs,
    ops: counter,
    get mounted() {
      return mounted;
    },
    unmount() {
      unmounting ??= (async () => {
        if (!mounted) return;
        try {
          await handle.unmount();
        } catch {
          // Busy or already gone: detach lazily so nothing stays behind.
          if (isMountPoint(path)) await detach(path);
        }
        live.get(path)?.();
        if (ownDir) {
          try {
            rmdirSync(path);
          } catch {
            // Not empty or already gone: leave it.
          }
        }
      })();
      return unmounting;
    },
  };
}

/** Host paths this process currently serves. */
export function liveMounts(): string[] {
  return [...live.keys()];
}
