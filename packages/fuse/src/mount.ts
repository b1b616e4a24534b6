// mount(): where a mount is served. By default on the process's serving thread (serve-thread.ts),
// with the engine moved there, so that the host program may use the mount like any directory,
// synchronously included (readFileSync, execSync with cwd on it, spawn of a binary on it). With
// `inline` (or a custom driver) on the calling thread, as before 0.2.

import { rmdirSync } from 'node:fs';
import { InodeFs, type InodeFsOptions } from '@vws/inode-fs';
import { fuseProblem } from './driver.js';
import { adopt, cacheReads, restoreServed } from './remote-fs.js';
import { serveMount, servedHere, type Mount, type MountOptions } from './serve.js';
import { runningServingThread, servingThread, type ServingThread } from './serve-thread.js';
import { detach, isMountPoint, sweepDeadServers } from './stale.js';
import { onProcessEnd } from './exit-hooks.js';

export type { Mount, MountOptions } from './serve.js';

/**
 * The first mount of a process clears what killed vws processes left (stale.ts): a kill -9 of a
 * process group leaves its mounts listed and their directories in the temp dir.
 */
let swept: Promise<unknown> | undefined;
const sweepOnce = () => (swept ??= sweepDeadServers().catch(() => []));

/** Host paths served by the serving thread, for liveMounts() and the exit paths. */
const threadMounts = new Set<string>();
let exitHandlersInstalled = false;

/** Mounts `fs` at `dir` (a fresh 0700 temp dir when omitted) and returns the handle. */
export async function mount(fs: InodeFs, dir?: string, options: MountOptions = {}): Promise<Mount> {
  await sweepOnce();
  if (options.inline || options.driver || process.env.VWS_SERVE_INLINE === '1') return serveMount(fs, dir, options);
  const problem = fuseProblem();
  if (problem) throw problem;
  const server = servingThread();
  const engine = adopt(server, fs);
  const { countOps, allowOther, cache, spinUs, readOnly } = options;
  const { mount: id, path } = (await server.request({ op: 'mount', engine, dir, options: { countOps, allowOther, cache, spinUs, readOnly } })) as { mount: number; path: string };
  cacheReads(fs);
  return threadMount(server, id, path, fs, dir === undefined);
}

function threadMount(server: ServingThread, id: number, path: string, fs: InodeFs, ownDir: boolean): Mount {
  let mounted = true;
  threadMounts.add(path);
  server.hold();
  installExitHandlers();
  const gone = () => {
    if (!mounted) return;
    mounted = false;
    threadMounts.delete(path);
    server.release();
  };
  server.whenClosed(id, gone);
  // Every command settles before it starts. Most of the time nothing changed through the API since
  // the last time all was settled (no call but reads: ServingThread.mutations), and then nothing is
  // asked at all; else one synchronous call says whether anything is pending, and only then do we
  // wait (asynchronously) for the kernel to take the invalidations.
  let settledAt = -1;
  const settle = async (): Promise<void> => {
    if (!mounted || !server.alive) return;
    const at = server.mutations;
    if (at === settledAt) return;
    if (!server.call(id, '$settledNow')) await server.request({ op: 'settle', mount: id });
    settledAt = at;
  };
  let unmounting: Promise<void> | undefined;
  return {
    path,
    fs,
    get mounted() {
      return mounted && server.alive;
    },
    get ops() {
      return server.alive ? (server.call(id, '$ops') as Mount['ops']) : undefined;
    },
    settle,
    unmount() {
      unmounting ??= (async () => {
        if (server.alive) await server.request({ op: 'unmount', mount: id });
        else if (isMountPoint(path)) {
          // The serving thread died: its teardown detached the mount; make sure, and tidy up.
          await detach(path);
        }
        gone();
        if (ownDir && !server.alive) {
          try {
            rmdirSync(path);
          } catch {
            // Not empty or already gone.
          }
        }
      })();
      return unmounting;
    },
  };
}

/** Process exit and fatal signals: the serving thread detaches everything it serves, at once. */
function detachThreadMountsNow(): void {
  const server = runningServingThread();
  if (!server || threadMounts.size === 0) return;
  try {
    server.call(0, '$detachAll');
  } catch {
    // The thread is gone: its teardown detached them.
  }
  threadMounts.clear();
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  onProcessEnd(detachThreadMountsNow);
}

/** Host paths this process currently serves (on the serving thread or on this one). */
export function liveMounts(): string[] {
  return [...threadMounts, ...servedHere()];
}

/**
 * An engine restored from snapshot bytes directly on the serving thread, for a tree that is about
 * to be mounted (mount() then has nothing to move), or an engine built here moved there now. An
 * engine's chunk buffers are handed over, not copied: no other engine here (a fork of it, one it was
 * imported against) may share them. Without FUSE it is restored (or stays) here.
 */
export function restoreForMount(src: Uint8Array | InodeFs, options: { quota?: InodeFsOptions['quota'] } = {}): InodeFs {
  const here = fuseProblem() || process.env.VWS_SERVE_INLINE === '1';
  if (src instanceof InodeFs) {
    if (!here) adopt(servingThread(), src, true);
    return src;
  }
  if (here) return InodeFs.restore(src, options);
  return restoreServed(servingThread(), src, options);
}
