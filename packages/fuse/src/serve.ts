// Serving a mount on the calling thread: the engine answers kernel requests on this thread's event
// loop. It runs on the serving thread (serve-worker.ts) by default, where nothing the host program
// does can block it; mount.ts chooses. Lifecycle: a fresh 0700 directory (or the one given), stale
// mounts cleared first, unmount on unmount(), on thread or process exit and (on the main thread) on
// SIGINT/SIGTERM/SIGHUP. Double unmount is harmless.
//
// On whichever thread serves, nothing may touch the mount synchronously (fs.*Sync on a path inside
// it, execFileSync, or spawns whose cwd or binary lies inside it): the kernel waits for this
// thread's event loop, which would be blocked waiting for the kernel.

import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { InodeFs } from '@vws/inode-fs';
import { lowLevelDriver, type KernelDriver, type KernelSession } from './driver.js';
import { MountError } from './errors.js';
import { KernelCache } from './kernel-cache.js';
import { RequestHandler, type CacheTimeouts, type OpCounter, type RequestGate } from './requests.js';
import { widenReadahead } from './readahead.js';
import { detach, isMountPoint, mountDirPrefix, probe } from './stale.js';
import { onProcessEnd } from './exit-hooks.js';

export interface MountOptions {
  /** The kernel binding; our libfuse3 low-level addon by default. */
  driver?: KernelDriver;
  /** Count requests per operation (for benchmarks and tests). */
  countOps?: boolean;
  /**
   * Let other users reach the mount (FUSE's allow_other; the kernel still checks modes). Off by
   * default: only the mounting user sees the files. Needs root or user_allow_other in /etc/fuse.conf.
   */
  allowOther?: boolean;
  /**
   * How long (seconds) the kernel may cache names, attributes and misses. Changes made through the
   * engine API are invalidated explicitly, so long timeouts stay correct; 0 turns a cache off.
   */
  cache?: Partial<CacheTimeouts>;
  /**
   * Microseconds the serving thread keeps polling for the next request before it sleeps (default
   * 50; 0 sleeps at once). A client's next request usually follows within microseconds, and waking
   * a sleeping thread on another CPU costs far more (measured here: 120-180 µs a round trip without
   * polling, 21-27 µs with it).
   */
  spinUs?: number;
  /**
   * Serve on the calling thread instead of the serving thread (the way before 0.2; kept to compare).
   * Then nothing on this thread may touch the mount synchronously: it would wait for itself forever.
   * Also chosen by VWS_SERVE_INLINE=1, and whenever a `driver` is given.
   */
  inline?: boolean;
  /** Mount read-only: the kernel refuses every write with EROFS (the engine API is not affected). */
  readOnly?: boolean;
  /** @internal Set by the serving thread: brackets each kernel request (requests.ts RequestGate). */
  gate?: RequestGate;
}

export interface Mount {
  /** The host path where the workspace is visible. */
  readonly path: string;
  readonly fs: InodeFs;
  readonly mounted: boolean;
  /** Requests per FUSE operation, when countOps was set. */
  readonly ops?: OpCounter;
  /**
   * Resolves once every change made so far through the engine API has reached the kernel's caches:
   * a command started after it sees those changes. (The sandbox awaits it before each command.)
   */
  settle(): Promise<void>;
  /** @internal Sends pending invalidations; true when all have reached the kernel already (settle's fast path). */
  settledNow?(): boolean;
  unmount(): Promise<void>;
}

/** Kernel options: named for the serving process, nosuid,nodev, unmounted when this process dies. */
const KERNEL_OPTIONS = [`fsname=vws:${process.pid}`, 'subtype=vws', 'nosuid', 'nodev', 'auto_unmount'];

/**
 * Whether the kernel checks modes (default_permissions). It must whenever anyone but root can reach
 * the mount (allow_other, or a mounting user other than root). A root-only mount skips it: root
 * passes every mode check but exec (the kernel still checks the x bits for execve, and we answer
 * access(2)), and the kernel then need not refresh a directory's attributes before each lookup in
 * it after a change: one round trip less per create, unlink or rename.
 */
function kernelOptions(allowOther: boolean): string[] {
  const rootOnly = !allowOther && process.getuid?.() === 0;
  return [...KERNEL_OPTIONS, ...(rootOnly ? [] : ['default_permissions']), ...(allowOther ? ['allow_other'] : [])];
}
const DEFAULT_CACHE: CacheTimeouts = { entry: 60, attr: 60, negative: 60 };
/** Largest request payload (libfuse's receive buffer holds 1 MiB of data). */
const BUFFER_SIZE = 1 << 20;

/** What this thread serves, by host path; `ownDir`: the directory is ours to remove. */
const live = new Map<string, { session: KernelSession; ownDir: boolean }>();
let handlersInstalled = false;

/** Synchronous last-chance detach of everything this thread serves (exit and signal paths). */
export function detachAllNow(): void {
  for (const [path, { session, ownDir }] of live) {
    live.delete(path);
    try {
      session.detachNow();
    } catch {
      // Already gone.
    }
    if (ownDir) {
      try {
        rmdirSync(path);
      } catch {
        // Not empty or busy: leave it.
      }
    }
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // On the serving thread this runs at the thread's exit; the main thread's signals reach mount.ts.
  onProcessEnd(detachAllNow);
}

/** Mounts `fs` at `dir` (a fresh 0700 temp dir when omitted), served on this thread. */
export async function serveMount(fs: InodeFs, dir?: string, options: MountOptions = {}, onGone?: () => void): Promise<Mount> {
  const driver = options.driver ?? lowLevelDriver();
  const ownDir = dir === undefined;
  const path = ownDir ? mkdtempSync(join(tmpdir(), mountDirPrefix())) : resolve(dir);
  if (live.has(path)) throw new MountError('this process already serves a mount here', path);
  if (!ownDir) {
    // A mount left by a killed server answers ENOTCONN (or hangs): clear it before mounting again.
    // (A dead server's mount may also vanish on its own meanwhile: auto_unmount.)
    if (isMountPoint(path)) {
      if ((await probe(path)) === 'stale') await detach(path);
      else if (isMountPoint(path)) throw new MountError('a live FUSE mount is already there', path);
    }
    await mkdir(path, { recursive: true, mode: 0o700 });
  }
  const counter: OpCounter | undefined = options.countOps ? new Map() : undefined;
  const timeouts = { ...DEFAULT_CACHE, ...options.cache, spinUs: options.spinUs ?? 50 };
  let session: KernelSession | undefined;
  const cache = new KernelCache(fs, { invalidate: (inodes, entries) => session?.invalidate(inodes, entries) ?? -1 });
  const handler = new RequestHandler(fs, cache, timeouts, BUFFER_SIZE, counter);
  handler.gate = options.gate ?? null;
  const waiters: Array<{ seq: number; resolve: () => void }> = [];
  let mounted = true;
  const wake = (done: number) => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (!mounted || waiters[i].seq <= done) waiters.splice(i, 1)[0].resolve();
    }
  };
  const forgetMount = () => {
    mounted = false;
    stopWatching();
    cache.releaseAll(); // the kernel sends no FORGET at unmount: its holds would keep deleted files charged
    live.delete(path);
    wake(Infinity);
    onGone?.();
  };
  // Engine changes made outside a kernel request become kernel cache invalidations.
  const stopWatching = fs.watch((ev) => {
    if (!handler.serving) cache.onChange(ev);
  });
  try {
    session = driver.mount(path, [...kernelOptions(options.allowOther ?? false), ...(options.readOnly ? ['ro'] : [])], handler, {
      onSettled: wake,
      onClosed: forgetMount, // unmounted from outside (fusermount -u) or the connection was aborted
    });
  } catch (e) {
    stopWatching();
    if (ownDir) rmdirSync(path);
    throw new MountError(`mount failed: ${(e as Error).message}`, path);
  }
  const kernel = session;
  handler.replyDeferred = (id, result, data) => kernel.replyDeferred(id, result, data);
  installExitHandlers();
  live.set(path, { session, ownDir });
  await widenReadahead(path);

  const settledNow = (): boolean => !mounted || session!.settled() >= cache.flush();
  const settle = (): Promise<void> => {
    if (!mounted) return Promise.resolve();
    const seq = cache.flush();
    if (session!.settled() >= seq) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ seq, resolve }));
  };

  let unmounting: Promise<void> | undefined;
  return {
    path,
    fs,
    ops: counter,
    get mounted() {
      return mounted;
    },
    settle,
    settledNow,
    unmount() {
      unmounting ??= (async () => {
        // Already gone (unmounted from outside, connection aborted): only our directory is left.
        if (mounted) {
          // Invalidations in flight may wait in the kernel for one of our replies: let them finish
          // while we still serve, then stop.
          await settle();
          stopWatching();
          if (mounted) {
            try {
              session!.unmount();
            } catch {
              if (isMountPoint(path)) await detach(path);
            }
            forgetMount();
          }
        }
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

/** Host paths this thread currently serves. */
export function servedHere(): string[] {
  return [...live.keys()];
}
