// Finding and clearing FUSE mounts whose server is gone ("Transport endpoint is not connected").
// Only asynchronous calls touch a mount point: a synchronous one on a mount this process serves
// would deadlock.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountEntry {
  source: string;
  path: string;
  type: string;
  /** The process serving it (our mounts are named vws:PID), when known. */
  pid?: number;
}

/** FUSE mounts listed in /proc/mounts (ours only, named vws or vws:PID, unless all is set). */
export function fuseMounts(all = false): MountEntry[] {
  let text = '';
  try {
    text = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 3 && (f[2] === 'fuse' || f[2].startsWith('fuse.')) && (all || f[0] === 'vws' || f[0].startsWith('vws:')))
    .map((f) => {
      const pid = /^vws:(\d+)$/.exec(f[0]);
      return { source: f[0], path: unescape(f[1]), type: f[2], ...(pid ? { pid: Number(pid[1]) } : {}) };
    });
}

export function isMountPoint(path: string): boolean {
  return fuseMounts(true).some((m) => m.path === path);
}

/** Whether a FUSE mount point answers: 'stale' when its server is gone or does not answer in time. */
export async function probe(path: string, timeoutMs = 2000): Promise<'live' | 'stale'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'stale'>((resolve) => {
    timer = setTimeout(() => resolve('stale'), timeoutMs);
  });
  // statfs always reaches the server (a stat may be answered from the kernel's attribute cache).
  const check = statfs(path).then(
    () => 'live' as const,
    (e: NodeJS.ErrnoException) => (e.code === 'ENOTCONN' || e.code === 'ECONNABORTED' ? ('stale' as const) : ('live' as const)),
  );
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Detaches a mount (lazy: works even while something still holds it). A mount that vanished on
 * its own meanwhile (auto_unmount after the server died) is not an error.
 */
export async function detach(path: string): Promise<void> {
  try {
    await run('fusermount3', ['-uz', path], { cwd: '/' });
  } catch (e) {
    if (isMountPoint(path)) throw e;
  }
}

/**
 * Clears every vws FUSE mount whose server is gone. Mounts this process serves are skipped.
 * Returns the paths it cleared.
 */
export async function cleanupStaleMounts(options: { skip?: Iterable<string>; timeoutMs?: number } = {}): Promise<string[]> {
  const skip = new Set(options.skip ?? []);
  const cleared: string[] = [];
  for (const m of fuseMounts()) {
    if (skip.has(m.path)) continue;
    if ((await probe(m.path, options.timeoutMs)) === 'stale') {
      await detach(m.path);
      cleared.push(m.path);
    }
  }
  return cleared;
}

/** The prefix of the directories mount() makes: `vws-mnt-PID-XXXXXX` in the temp dir. */
export const mountDirPrefix = (pid = process.pid) => `vws-mnt-${pid}-`;

const processGone = (pid: number) => !existsSync(`/proc/${pid}`);

/** Whether the mount's FUSE connection is certainly gone: ENOTCONN (no answer in time is no proof). */
async function connectionGone(path: string, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const check = statfs(path).then(
    () => false,
    (e: NodeJS.ErrnoException) => e.code === 'ENOTCONN' || e.code === 'ECONNABORTED',
  );
  try {
    return await Promise.race([check, slow]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What vws processes killed outright left behind. A kill -9 of a whole process group takes
 * fusermount3's auto_unmount helper with it, so the mount stays listed, answering ENOTCONN, and
 * its directory stays in the temp dir. Detaches a vws mount only when its serving process is gone
 * and its connection answers ENOTCONN (a server in another PID namespace answers); removes the
 * empty `vws-mnt-PID-*` directories of dead PIDs. Returns what it cleared.
 */
export async function sweepDeadServers(): Promise<string[]> {
  const cleared: string[] = [];
  for (const m of fuseMounts()) {
    if (m.pid === undefined || !processGone(m.pid) || !(await connectionGone(m.path))) continue;
    try {
      await detach(m.path);
      cleared.push(m.path);
    } catch {
      // Someone else's to clear (no permission): leave it.
    }
  }
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return cleared;
  }
  for (const name of names) {
    const pid = /^vws-mnt-(\d+)-/.exec(name);
    if (!pid || !processGone(Number(pid[1]))) continue;
    const dir = join(tmpdir(), name);
    if (isMountPoint(dir)) continue;
    try {
      rmdirSync(dir); // only ever an empty directory
      if (!cleared.includes(dir)) cleared.push(dir);
    } catch {
      // Not empty (a mount was detached while something wrote there): not ours to delete.
    }
  }
  return cleared;
}
