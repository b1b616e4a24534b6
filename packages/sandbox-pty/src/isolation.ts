// Optional containment with bubblewrap: the host read-only, the workspace writable, no network, no
// capabilities, a PID namespace of its own (its own /proc: no host process is visible, and nothing
// the command starts outlives it), the host's secrets and other workspaces hidden, denied programs
// unrunnable under any spelling.

import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, sep } from 'node:path';

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
  /** Host paths the command must not see (an empty directory over each): $VWS_HOME, the project... */
  hide?: string[];
  /** Executables (resolved real paths) that cannot run: /dev/null is bound over each (exec fails with EACCES). */
  deny?: string[];
}

/** Whether `p` is `dir` or below it. */
export const within = (p: string, dir: string): boolean => p === dir || dir === '/' || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Secrets files of the host, masked with an empty file when present. */
const SECRET_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/security/opasswd'];
/** Per-home secrets (files or directories), masked under every /home/<user>. */
const HOME_SECRETS = ['.ssh', '.gnupg', '.aws', '.azure', '.kube', '.docker', '.netrc', '.npmrc', '.pypirc', '.git-credentials', '.config/gcloud', '.config/gh'];

/** Host secrets present now: [files, directories]. */
function secrets(): [string[], string[]] {
  const files = SECRET_FILES.filter((p) => existsSync(p));
  const dirs = ['/root'].filter((p) => existsSync(p));
  try {
    for (const e of readdirSync('/etc/ssh')) if (/^ssh_host_.*_key$/.test(e)) files.push(`/etc/ssh/${e}`);
  } catch {
    // no sshd
  }
  let homes: string[] = [];
  try {
    homes = readdirSync('/home').map((u) => `/home/${u}`);
  } catch {
    // no /home
  }
  for (const h of homes)
    for (const s of HOME_SECRETS) {
      const p = `${h}/${s}`;
      try {
        (lstatSync(p).isDirectory() ? dirs : files).push(p);
      } catch {
        // not there
      }
    }
  return [files, dirs];
}

/** Mount points of FUSE filesystems now (other workspaces' mounts among them), from mountinfo. */
export function fuseMounts(): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || !right.startsWith('fuse')) continue;
    const point = left.split(' ')[4];
    if (point) out.push(point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Paths a hide must never cover: the root and the system's own directories. */
const SYSTEM = ['/', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/etc', '/opt', '/var', '/proc', '/dev', '/sys', '/run', '/tmp'];

/** The argv prefix that runs a command inside bubblewrap with `writable` paths bound read-write. */
export function bwrapPrefix(writable: string[], cwd: string, options: ContainOptions = {}): (privateDir: string) => string[] {
  const bwrap = bwrapPath();
  if (!bwrap) throw new IsolationUnavailableError('bwrap');
  return (privateDir) => {
    const open = [...writable, privateDir];
    // Hidden: what the caller names and every FUSE mount (other workspaces), except what the command
    // works in (and what holds system directories). An empty tmpfs goes over each, before the
    // workspace is bound back in, so a workspace inside a hidden directory still appears.
    const hide = [...new Set([...(options.hide ?? []), ...fuseMounts()])].filter((h) => h.startsWith('/') && !SYSTEM.some((s) => within(s, h)) && !open.some((w) => within(h, w)));
    const [secretFiles, secretDirs] = secrets();
    // Node's own installation stays visible (PATH starts with it) even when a hidden directory holds it.
    const nodePrefix = dirname(dirname(process.execPath));
    const nodeHidden = [...hide, ...secretDirs].some((h) => within(nodePrefix, h));
    return [
      bwrap,
      '--ro-bind', '/', '/',
      '--dev', '/dev',
      '--proc', '/proc',
      '--tmpfs', '/tmp',
      ...hide.flatMap((p) => ['--tmpfs', p]),
      ...secretDirs.filter((p) => !open.some((w) => within(p, w))).flatMap((p) => ['--tmpfs', p]),
      ...secretFiles.flatMap((p) => ['--ro-bind', '/dev/null', p]),
      ...(nodeHidden ? ['--ro-bind', nodePrefix, nodePrefix] : []),
      ...open.flatMap((p) => ['--bind', p, p]),
      ...(options.readOnly ?? []).flatMap((p) => ['--ro-bind-try', p, p]),
      ...(options.deny ?? []).flatMap((p) => ['--ro-bind-try', '/dev/null', p]),
      ...(options.allowNetwork ? [] : ['--unshare-net']),
      '--unshare-ipc',
      // A PID namespace: its own /proc (no host pid, no other process's environment), and when the
      // command ends the namespace's init goes and the kernel kills everything left in it.
      '--unshare-pid',
      '--cap-drop', 'ALL',
      // No controlling terminal to push input into (TIOCSTI) and no job-control tie to ours.
      '--new-session',
      '--die-with-parent',
      '--chdir', cwd,
      '--',
    ];
  };
}
