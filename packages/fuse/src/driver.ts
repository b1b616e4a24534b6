// The kernel-facing side behind a small interface of ours, so that another binding (for example one
// over libfuse3's low-level API with cache invalidation) can replace fuse-native without touching
// the operations or the mount lifecycle.

import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FuseUnavailableError } from './errors.js';

/** Path-based operations in fuse-native's callback style: cb(negative errno | 0, ...results). */
export type FuseOps = Record<string, (...args: any[]) => void>;

export interface DriverMount {
  unmount(): Promise<void>;
}

export interface KernelDriver {
  readonly name: string;
  mount(dir: string, ops: FuseOps, options: string[]): Promise<DriverMount>;
}

const require = createRequire(import.meta.url);

/** Why FUSE cannot work here, or undefined when it can. Cheap: checks files, loads nothing. */
export function fuseProblem(): FuseUnavailableError | undefined {
  if (process.platform !== 'linux') return new FuseUnavailableError(`${process.platform} is not supported`, 'Use Linux with FUSE, or the sandbox sync mode.');
  if (!existsSync('/dev/fuse')) return new FuseUnavailableError('/dev/fuse does not exist', 'Load the fuse kernel module, or run the container with --device /dev/fuse.');
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return new FuseUnavailableError('/dev/fuse is not readable and writable by this user', 'Add the user to the fuse group or run as root.');
  }
  if (!['/bin/fusermount', '/usr/bin/fusermount'].some((p) => existsSync(p))) {
    return new FuseUnavailableError('fusermount is not installed', "Install Debian's fuse package: apt-get install fuse libfuse2.");
  }
  return undefined;
}

interface FuseNative {
  new (dir: string, ops: FuseOps, opts: Record<string, unknown>): { mount(cb: (err?: Error | null) => void): void; unmount(cb: (err?: Error | null) => void): void };
}

/** fuse-native (libfuse 2), loaded only when a mount is asked for. */
export function fuseNativeDriver(): KernelDriver {
  const problem = fuseProblem();
  if (problem) throw problem;
  let Fuse: FuseNative;
  try {
    Fuse = require('fuse-native') as FuseNative;
  } catch (e) {
    throw new FuseUnavailableError(`the fuse-native addon did not load (${(e as Error).message.split('\n')[0]})`, "Install Debian's libfuse2 and fuse packages, then reinstall dependencies (pnpm install).");
  }
  return {
    name: 'fuse-native',
    mount(dir, ops, options) {
      // fuse-native only passes the options it knows and drops those whose value is 0; everything
      // else rides along in fsname, which it copies verbatim into the -o string.
      const fuse = new Fuse(dir, ops, { fsname: ['vws', ...options].join(','), force: true, autoUnmount: true, defaultPermissions: true, timeout: false });
      return new Promise((resolve, reject) => {
        fuse.mount((err) => {
          if (err) return reject(err);
          resolve({
            unmount: () =>
              new Promise<void>((res, rej) => {
                fuse.unmount((e) => (e ? rej(e) : res()));
              }),
          });
        });
      });
    },
  };
}
