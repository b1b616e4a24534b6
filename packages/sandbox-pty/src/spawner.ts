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
  /** The command's pid (its process group) once spawned. */
  pid?: number;
  onStdout: (s: string) => void;
  onStderr: (s: string) => void;
  resolvePid: (pid: number) => void;
  rejectPid: (e: Error) => void;
  resolveDone: (e: { exitCode: number; signal?: number; lost?: string }) => void;
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
      child.once('exit', (code, signal) => {
        reject(new Error(`the spawner process exited (${code ?? signal}) before it was ready`));
        // The next launch starts a new spawner (a dead one would leave every later run waiting).
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        const lost = `the process that started the command (the spawner, pid ${child.pid}) died (${code ?? signal}): the command was killed`;
        for (const [id, p] of this.pending) {
          // Its commands have nobody to report their end: end them (their process groups) now.
          if (p.pid) killGroup(p.pid);
          p.rejectPid(new Error(lost));
          p.resolveDone({ exitCode: 1, lost });
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
    if (m.type === 'spawned') {
      p.pid = m.pid;
      p.resolvePid(m.pid);
    }
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
    if (this.child?.connected) this.child.send(m, (e) => e && undefined); // a dead spawner: its exit handler reports
  }

  async launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
    await this.start();
    if (!this.child?.connected) throw new Error('the spawner process died before the command could start');
    const id = this.nextId++;
    let resolvePid!: (pid: number) => void;
    let rejectPid!: (e: Error) => void;
    let resolveDone!: (e: { exitCode: number; signal?: number; lost?: string }) => void;
    const pid = new Promise<number>((res, rej) => ((resolvePid = res), (rejectPid = rej)));
    const done = new Promise<{ exitCode: number; signal?: number; lost?: string }>((res) => (resolveDone = res));
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

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
