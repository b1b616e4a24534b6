// Starting worker processes and reading their JSON lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Worker {
  child: ChildProcess;
  /** The next JSON line with one of these events (or 'error'), or rejects when the process exits first. */
  next(event: string | string[]): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** What the worker wrote to stderr so far (for failure messages). */
  stderr(): string;
}

const homes: string[] = [];

export function startWorker(mode: string, env: Record<string, string>): Worker {
  // Each worker gets its own $VWS_HOME: nothing is shared but the store.
  const home = mkdtempSync(join(tmpdir(), 'vws-worker-home-'));
  homes.push(home);
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(import.meta.dirname, 'worker.ts'), mode], {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, VWS_HOME: home, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line));
    } catch {
      lines.push({ event: 'garbage', line });
    }
    waiters.splice(0).forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    resolve(code);
    waiters.splice(0).forEach((w) => w());
  }));
  let done = false;
  exited.then(() => (done = true));
  return {
    child,
    exited,
    stderr: () => stderr,
    async next(event) {
      for (;;) {
        const want = typeof event === 'string' ? [event, 'error'] : [...event, 'error'];
        const i = lines.findIndex((l) => want.includes(l.event as string));
        if (i >= 0) return lines.splice(i, 1)[0];
        if (done) throw new Error(`worker ${mode} exited (code ${child.exitCode}, signal ${child.signalCode}) before '${event}': ${stderr.slice(-2000)}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

export function cleanHomes(): void {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}
