// The sandbox's side of the spawner process: starts it once (asynchronously, cwd '/', so that it
// never touches a mount while this process is blocked), and gives each launch the same shape as
// launching in-process.

import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Launched, LaunchSpec } from './launcher.js';
import type { FromSpawner, ToSpawner } from './spawner-protocol.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Pending {
  onStdout: (s: string) => void;
  onStderr: (s: string) => void;
  resolvePid: (pid: number) => void;
  rejectPid: (e: Error) => void;
  resolveDone: (e: { exitCode: number; signal?: number }) => void;
}

export class Spawner {
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly warm: boolean;

  /**
   * `warm` (default true): the spawner starts the next non-interactive run's bash ahead of time
   * (launcher.ts, warm shells); a caller that runs one command and stops can turn it off.
   */
  constructor(options: { warm?: boolean } = {}) {
    this.warm = options.warm !== false;
  }

  /** Starts the spawner process (once). */
  start(): Promise<void> {
    this.ready ??= new Promise((resolve, reject) => {
      // From source (tests, development) the entry is TypeScript: load it through tsx.
      const fromSource = import.meta.url.endsWith('.ts');
      const entry = join(here, fromSource ? 'spawner-main.ts' : 'spawner-main.js');
      const execArgv = fromSource ? ['--import', 'tsx', '--conditions=@vws/source'] : [];
      const child = fork(entry, this.warm ? [] : ['--no-warm'], { cwd: fromSource ? join(here, '..') : '/', execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      this.child = child;
      child.on('message', (m: FromSpawner) => this.onMessage(m, resolve));
      child.once('error', reject);
      child.once('exit', (code) => {
        reject(new Error(`the spawner process exited (${code}) before it was ready`));
        for (const [id, p] of this.pending) {
          p.rejectPid(new Error('the spawner process exited'));
          p.resolveDone({ exitCode: 1 });
          this.pending.delete(id);
        }
      });
    });
    return this.ready;
  }

  private onMessage(m: FromSpawner, ready: () => void): void {
    if (m.type === 'ready') return ready();
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'spawned') p.resolvePid(m.pid);
    else if (m.type === 'failed') {
      p.rejectPid(new Error(m.message));
      this.pending.delete(m.id);
    } else if (m.type === 'out') p.onStdout(m.data);
    else if (m.type === 'err') p.onStderr(m.data);
    else if (m.type === 'exit') {
      this.pending.delete(m.id);
      p.resolveDone({ exitCode: m.exitCode, signal: m.signal });
    }
  }

  private send(m: ToSpawner): void {
    this.child?.send(m);
  }

  async launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
    await this.start();
    const id = this.nextId++;
    let resolvePid!: (pid: number) => void;
    let rejectPid!: (e: Error) => void;
    let resolveDone!: (e: { exitCode: number; signal?: number }) => void;
    const pid = new Promise<number>((res, rej) => ((resolvePid = res), (rejectPid = rej)));
    const done = new Promise<{ exitCode: number; signal?: number }>((res) => (resolveDone = res));
    this.pending.set(id, { onStdout, onStderr, resolvePid, rejectPid, resolveDone });
    this.send({ type: 'spawn', id, spec });
    return {
      pid: await pid,
      done,
      write: (data) => this.send({ type: 'write', id, data }),
      closeStdin: () => this.send({ type: 'closeStdin', id }),
      signal: (signal) => this.send({ type: 'signal', id, signal }),
      resize: (cols, rows) => this.send({ type: 'resize', id, cols, rows }),
    };
  }

  /** Ends the spawner (it kills what it still runs). */
  stop(): void {
    if (this.child?.connected) this.child.disconnect();
    this.child = undefined;
    this.ready = undefined;
  }
}
