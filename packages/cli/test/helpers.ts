// Runs the real `vws` binary (bin/vws.js, from the sources) with the project's node in a given $VWS_HOME.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/vws.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function start(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): ChildProcess {
  // cwd outside any mount: vws serves FUSE mounts itself.
  const child = spawn(process.execPath, [bin, ...args], { cwd: home, env: { ...process.env, VWS_HOME: home, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end(opts.input ?? '');
  return child;
}

export function run(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = start(home, args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
