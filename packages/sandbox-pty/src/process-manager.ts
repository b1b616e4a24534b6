// PTY-backed processes for Mastra's process contract: spawn, list, get, kill, stdin, wait, streams.

import { ProcessHandle, SandboxProcessManager, type CommandResult, type ProcessInfo, type SpawnProcessOptions } from '@mastra/core/workspace';
import type { Readable } from 'node:stream';
import { cleanOutput } from './clean-output.js';
import type { Launched, StdinMode } from './launcher.js';
import type { PtySandbox } from './pty-sandbox.js';
import { exitCodeOf } from './runner.js';

export class PtyProcessHandle extends ProcessHandle {
  readonly pid: string;
  exitCode: number | undefined;
  private readonly proc: Launched;
  private readonly result: Promise<CommandResult>;
  private stdinClosed = false;
  /** stdinMode 'ignore': stdin is /dev/null, so there is nothing to write to (as LocalSandbox says). */
  private readonly noStdin: boolean;

  constructor(proc: Launched, startedAt: number, options: SpawnProcessOptions & { killGraceMs: number }) {
    super(options);
    this.proc = proc;
    this.pid = String(proc.pid);
    this.noStdin = options.stdinMode === 'ignore';
    let timedOut = false;
    let killed = false;
    const timer = options.timeout
      ? setTimeout(() => {
          timedOut = true;
          this.terminate(options.killGraceMs);
        }, options.timeout)
      : undefined;
    this.result = proc.done.then((exit) => {
      if (timer) clearTimeout(timer);
      killed = exit.signal !== undefined && exit.signal !== 0;
      if (timedOut) {
        this.emitStderr(`\nProcess timed out after ${options.timeout}ms`);
        this.exitCode = 124;
      } else this.exitCode = exitCodeOf(exit);
      // Nothing may outlive its command in the group (grandchildren included).
      proc.signal('SIGKILL');
      return { success: this.exitCode === 0, exitCode: this.exitCode, stdout: this.stdout, stderr: this.stderr, executionTimeMs: Date.now() - startedAt, timedOut, killed: killed || timedOut };
    });
  }

  /** SIGTERM to the whole group, then SIGKILL after a grace period. */
  terminate(graceMs: number): void {
    this.proc.signal('SIGTERM');
    const t = setTimeout(() => this.proc.signal('SIGKILL'), graceMs);
    void this.result.finally(() => clearTimeout(t));
  }

  // The base class wraps wait() to add listeners and abort handling; this is the bare wait.
  override async wait(_options?: { onStdout?: (d: string) => void; onStderr?: (d: string) => void; abortSignal?: AbortSignal }): Promise<CommandResult> {
    return this.result;
  }

  async kill(): Promise<boolean> {
    if (this.exitCode !== undefined) return false;
    this.proc.signal('SIGKILL');
    await this.result;
    return true;
  }

  // What the model reads (get_process_output, execute_command's result): no escape sequences, no
  // carriage-return progress frames. The streams (onStdout, reader) stay raw.
  override get stdout(): string {
    return cleanOutput(super.stdout);
  }

  override get stderr(): string {
    return cleanOutput(super.stderr);
  }

  /**
   * The reader is made on first use; output that came before (a fast command's, which can arrive
   * before spawn() returns) goes into it first, so a reader made right after spawn misses nothing.
   */
  override get reader(): Readable {
    const first = !this.readerMade;
    const reader = super.reader;
    if (first) {
      this.readerMade = true;
      const early = super.stdout;
      if (early) reader.push(early);
    }
    return reader;
  }
  private readerMade = false;

  /** Bytes arrive unchanged (stdin is a pipe, not the terminal's line discipline). */
  async sendStdin(data: string): Promise<void> {
    if (this.exitCode !== undefined) throw new Error(`Process ${this.pid} has already exited with code ${this.exitCode}`);
    if (this.noStdin) throw new Error(`Process ${this.pid} does not have stdin available`);
    if (this.stdinClosed) throw new Error(`Process ${this.pid} stdin is closed`);
    this.proc.write(data);
  }

  /** End of file on stdin once what was sent has been read. */
  override async closeStdin(): Promise<void> {
    if (this.exitCode !== undefined) throw new Error(`Process ${this.pid} has already exited with code ${this.exitCode}`);
    if (this.noStdin) throw new Error(`Process ${this.pid} does not have stdin available`);
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    this.proc.closeStdin();
  }

  resize(cols: number, rows: number): void {
    this.proc.resize(cols, rows);
  }
}

/** stdinMode 'ignore' is /dev/null (end of file at once, as LocalSandbox gives); else the sandbox's choice. */
function stdinFor(options: SpawnProcessOptions, spawned: 'pipe' | 'terminal'): StdinMode {
  return options.stdinMode === 'ignore' ? 'null' : spawned;
}

export class PtyProcessManager extends SandboxProcessManager<PtySandbox> {
  override async spawn(command: string, options: SpawnProcessOptions = {}): Promise<PtyProcessHandle> {
    const sandbox = this.sandbox;
    const run = sandbox.prepareRun(options.cwd, options.env);
    const startedAt = Date.now();
    let handle: PtyProcessHandle | undefined;
    const early: Array<['out' | 'err', string]> = [];
    const proc = await sandbox.launch(
      { command: options.originalInvocation ? [options.originalInvocation.command, ...options.originalInvocation.args] : command, cwd: run.cwd, env: run.env, contain: run.contain, stdin: stdinFor(options, sandbox.stdinMode) },
      (s) => (handle ? handle.emitStdout(s) : early.push(['out', s])),
      (s) => (handle ? handle.emitStderr(s) : early.push(['err', s])),
    );
    handle = new PtyProcessHandle(proc, startedAt, { ...options, killGraceMs: sandbox.killGraceMs });
    for (const [kind, s] of early) (kind === 'out' ? handle.emitStdout(s) : handle.emitStderr(s));
    this._tracked.set(handle.pid, handle);
    sandbox.track(handle);
    return handle;
  }

  override async list(): Promise<ProcessInfo[]> {
    return [...this._tracked.values()].map((h) => ({ pid: h.pid, command: h.command, running: h.exitCode === undefined, exitCode: h.exitCode }));
  }
}
