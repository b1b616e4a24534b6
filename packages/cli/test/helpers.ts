// Runs the real `vws` binary (bin/vws.js, from the sources) with the project's node in a given $VWS_HOME.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive } from '../src/process-alive.js';

export const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/vws.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `endless`: stdin never ends (a megabyte of 'y' after another, as long as the child reads). */
/**
 * The environment a user's `vws` gets: ours without the npm settings a runner like npx or pnpm puts
 * there (exec passes npm_config_* through, so they would change what commands see), and without CI
 * (which turns colours on in a pipe: the tests compare text).
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'CI'));
}

export function start(home: string, args: string[], opts: { input?: string; env?: Record<string, string>; endless?: boolean } = {}): ChildProcess {
  // cwd outside any mount: vws serves FUSE mounts itself.
  const child = spawn(process.execPath, [bin, ...args], { cwd: home, env: { ...userEnv(), VWS_HOME: home, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  // A child killed on purpose (the crash tests) may not have read all its input: that is no error here.
  child.stdin!.on('error', () => {});
  if (opts.endless) {
    const chunk = Buffer.alloc(1 << 20, 'y');
    const pump = () => {
      while (child.stdin!.writable && child.stdin!.write(chunk));
    };
    child.stdin!.on('drain', pump);
    pump();
  } else child.stdin!.end(opts.input ?? '');
  return child;
}

export function run(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = start(home, args, opts);
    let stdout = '';
    let stderr = '';
    // Decoded as streams: a character split between two reads stays whole.
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * kill -9 of the vws CLI we started: a crash, as hard as it gets. That is the process itself when it
 * runs the build, and also its child when bin/vws.js runs the sources through tsx. Other children (the
 * spawner, fusermount's auto_unmount helper) are left alone, as a real crash of vws leaves them.
 */
export function killCli(pid: number): void {
  let kids: number[] = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    // no children
  }
  const isCli = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('src/main.ts');
    } catch {
      return false;
    }
  };
  for (const p of [...kids.filter(isCli), pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * Stops the exec daemons of a $VWS_HOME (`vws daemon stop`) and returns their pids, each checked
 * gone. Every test file that runs exec calls it before removing its home.
 */
export async function stopDaemons(home: string): Promise<number[]> {
  const status = await run(home, ['--json', 'daemon', 'status']);
  const pids = (JSON.parse(status.stdout).daemons as Array<{ pid: number }>).map((d) => d.pid).sort();
  const r = await run(home, ['--json', 'daemon', 'stop']);
  const stopped = (JSON.parse(r.stdout).stopped as number[]).sort();
  if (JSON.stringify(stopped) !== JSON.stringify(pids)) throw new Error(`daemon stop stopped ${stopped} of ${pids}`);
  const left = pids.filter(processAlive);
  if (left.length) throw new Error(`exec daemons still running: ${left.join(', ')}`);
  return pids;
}
