// Optional containment with bubblewrap: the host read-only, the workspace writable, no network.

import { existsSync } from 'node:fs';

export type Isolation = 'none' | 'bwrap';

export class IsolationUnavailableError extends Error {
  constructor(what: string) {
    super(`isolation '${what}' is not available: bubblewrap (bwrap) is not installed. Install it with: apt-get install bubblewrap`);
    this.name = 'IsolationUnavailableError';
  }
}

export function bwrapPath(): string | undefined {
  return ['/usr/bin/bwrap', '/bin/bwrap'].find((p) => existsSync(p));
}

export interface ContainOptions {
  /** Keep the host's network (Mastra's nativeSandbox.allowNetwork); off by default. */
  allowNetwork?: boolean;
  /** Paths read-only even inside a writable one (Mastra's nativeSandbox.readOnlyPaths). */
  readOnly?: string[];
}

/** The argv prefix that runs a command inside bubblewrap with `writable` paths bound read-write. */
export function bwrapPrefix(writable: string[], cwd: string, options: ContainOptions = {}): (privateDir: string) => string[] {
  const bwrap = bwrapPath();
  if (!bwrap) throw new IsolationUnavailableError('bwrap');
  return (privateDir) => [
    bwrap,
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    ...[...writable, privateDir].flatMap((p) => ['--bind', p, p]),
    ...(options.readOnly ?? []).flatMap((p) => ['--ro-bind-try', p, p]),
    ...(options.allowNetwork ? [] : ['--unshare-net']),
    '--unshare-ipc',
    '--die-with-parent',
    '--chdir', cwd,
    '--',
  ];
}
