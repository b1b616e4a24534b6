// The kernel-facing side behind a small interface of ours: a binding that serves FUSE requests by
// calling `dispatch` (see requests.ts) and can queue cache invalidations. The one we ship is our
// own N-API addon over libfuse3's low-level API (native/vws_fuse.c), built at install.

import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { FuseUnavailableError } from './errors.js';

export interface ServeBuffers {
  dispatch: (op: number, ino: number, a: number, b: number, c: number, s1?: string, s2?: string) => number | string;
  io: Float64Array;
  rbuf: Buffer;
  wbuf: Buffer;
}

export interface KernelSession {
  /** Queues kernel cache invalidations; returns the sequence number they complete at. */
  invalidate(inodes: number[], entries: Array<[number, string]>): number;
  /** How many invalidations have completed. */
  settled(): number;
  /**
   * Answers a request dispatch deferred (returned DEFERRED with its id in io[IO.DEFER_ID]): a read's
   * `result` bytes of `data`, a write's `result` bytes written, a setattr's Stats (put in io just
   * before), a fallocate's 0; or a negative errno. False if nothing waits under that id.
   */
  replyDeferred(id: number, result: number, data?: Buffer): boolean;
  /** Stops serving and unmounts (after pending invalidations have settled). */
  unmount(): void;
  /** Process exit: close the connection and detach at once, without waiting for anything. */
  detachNow(): void;
}

export interface KernelDriver {
  readonly name: string;
  mount(dir: string, options: string[], serve: ServeBuffers, events: { onSettled(done: number): void; onClosed(): void }): KernelSession;
}

const require = createRequire(import.meta.url);
const INSTALL =
  "Install Debian's fuse3 package (apt-get install fuse3). Where no prebuilt addon fits (they ship for linux-x64 glibc), also build it: apt-get install libfuse3-dev pkg-config make g++ python3, then npm rebuild @vws/fuse.";

/** Why FUSE cannot work here, or undefined when it can. Cheap: checks files, loads nothing. */
export function fuseProblem(): FuseUnavailableError | undefined {
  if (process.platform !== 'linux') return new FuseUnavailableError(`${process.platform} is not supported`, 'Use Linux with FUSE, or the sandbox sync mode.');
  if (!existsSync('/dev/fuse')) return new FuseUnavailableError('/dev/fuse does not exist', 'Load the fuse kernel module, or run the container with --device /dev/fuse.');
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return new FuseUnavailableError('/dev/fuse is not readable and writable by this user', 'Add the user to the fuse group or run as root.');
  }
  if (!['/bin/fusermount3', '/usr/bin/fusermount3'].some((p) => existsSync(p))) {
    return new FuseUnavailableError('fusermount3 is not installed', "Install Debian's fuse3 package: apt-get install fuse3.");
  }
  return undefined;
}

interface Addon {
  mount(dir: string, options: string, dispatch: ServeBuffers['dispatch'], io: Float64Array, rbuf: Buffer, wbuf: Buffer, onSettled: (done: number) => void, onClosed: () => void): object;
  unmount(session: object, detach: boolean): void;
  detachNow(session: object): void;
  invalidate(session: object, inodes: number[], entries: Array<[number, string]>): number;
  settled(session: object): number;
  replyDeferred(session: object, id: number, result: number, data?: Buffer): boolean;
  threadId(): number;
  keepNear(tid: number, near: boolean): number;
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon) return addon;
  // The prebuilt addon first, then one built from source (scripts/addon-path.cjs, shared with the install step).
  // Located through `require` (not import.meta.url): the CLI bundle points that at this package.
  const helper = require.resolve('../scripts/addon-path.cjs');
  const { addonCandidates } = require(helper) as { addonCandidates(root: string): string[] };
  const root = dirname(dirname(helper));
  const found = addonCandidates(root).filter((f) => existsSync(f));
  let why = 'it is neither prebuilt for this platform nor built from source';
  for (const file of found) {
    try {
      addon = require(file) as Addon;
      return addon;
    } catch (e) {
      why = (e as Error).message.split('\n')[0];
    }
  }
  throw new FuseUnavailableError(`the vws FUSE addon did not load (${why})`, INSTALL);
}

/**
 * The calling thread's kernel id and a way to keep another thread of this process on the caller's
 * CPU (native/vws_fuse.c, keepNear: why), or undefined where the addon cannot load.
 */
export function threadPlacement(): Pick<Addon, 'threadId' | 'keepNear'> | undefined {
  try {
    const a = loadAddon();
    return typeof a.keepNear === 'function' ? a : undefined;
  } catch {
    return undefined;
  }
}

/** Our libfuse3 low-level binding, loaded only when a mount is asked for. */
export function lowLevelDriver(): KernelDriver {
  const problem = fuseProblem();
  if (problem) throw problem;
  const native = loadAddon();
  return {
    name: 'vws-fuse3',
    mount(dir, options, serve, events) {
      const s = native.mount(dir, options.join(','), serve.dispatch, serve.io, serve.rbuf, serve.wbuf, events.onSettled, events.onClosed);
      return {
        invalidate: (inodes, entries) => native.invalidate(s, inodes, entries),
        settled: () => native.settled(s),
        replyDeferred: (id, result, data) => native.replyDeferred(s, id, result, data),
        unmount: () => native.unmount(s, true),
        detachNow: () => native.detachNow(s),
      };
    },
  };
}
