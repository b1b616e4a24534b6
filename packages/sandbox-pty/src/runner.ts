// The PTY runner without Mastra (`@vws/sandbox-pty/runner`): runs one command in a FUSE mount of an
// InodeFs (or, without FUSE, in a shadow directory: PtySandbox's sync mode) with the same spawner,
// launcher, curated environment and change report as PtySandbox, for callers that have no use for a
// Mastra sandbox and should not pay for loading it (the vws CLI's exec: loading @mastra/core alone
// costs ~450 ms). Nothing here imports @mastra/core.

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import type { Readable } from 'node:stream';
import type { InodeFs } from '@vws/inode-fs';
import { fuseMounts, fuseProblem, mount, releaseEngine, type Mount } from '@vws/fuse';
import { engineChanges, type Changes } from './changes.js';
import { buildEnv, type EnvOptions } from './env.js';
import { launch, type Launched, type LaunchSpec } from './launcher.js';
import { ShadowMount } from './shadow-mount.js';
import { forget, makeShadowDir } from './shadow-dir.js';
import { Spawner } from './spawner.js';
import { stdinPipe } from './stdin-pipe.js';

export { engineChanges, noChanges, type Changes } from './changes.js';
export { buildEnv, type EnvOptions } from './env.js';
export type { Launched, LaunchSpec } from './launcher.js';
export { stdinPipe, sweepDeadStdinDirs, type StdinPipe } from './stdin-pipe.js';
export { SyncError } from './shadow-mount.js';

/** The spawner died while a command ran: its status is unknown, the command was killed. */
export class SpawnerLostError extends Error {
  override name = 'SpawnerLostError';
}

/** A run's exit status as a shell reports it: the command's code, or 128 + the signal that killed it. */
export function exitCodeOf(exit: { exitCode: number; signal?: number }): number {
  return exit.signal !== undefined && exit.signal !== 0 ? 128 + exit.signal : exit.exitCode;
}

/** Why FUSE cannot be used here (run() then uses a shadow directory: sync mode), or undefined. */
export function runnerProblem(): Error | undefined {
  return fuseProblem();
}

export interface RunOptions {
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** The environment, curated as PtySandbox's (HOME is the mount). */
  env?: EnvOptions;
  /** Aborting kills the command's whole process group (the run then ends with its exit status). */
  signal?: AbortSignal;
  /**
   * Piped input: the command's stdin reads these bytes, then end of file (stdin-pipe.ts). Without
   * it, stdin is the terminal, which nothing writes to.
   */
  stdin?: Readable;
  /** The command's working directory, a directory in the tree (default: its root). */
  cwd?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** What the command created, modified and deleted (paths from the mount's root). */
  changes: Changes;
  /**
   * Set when the mount was detached while the command ran (an outside unmount, the FUSE connection
   * closed): what reached the tree before is in it; what the command then wrote landed in the plain
   * host directory where the mount was, and was removed (those paths, from the mount's root).
   */
  mountLost?: { discarded: string[] };
}

/** Starts commands through a spawner process (default) or from this process, as PtySandbox does. */
export class Runner {
  private readonly spawner: Spawner | null;

  /** `warm: false` for callers that run one command and stop (no shell started ahead for a next one). */
  constructor(options: { spawner?: boolean; warm?: boolean } = {}) {
    this.spawner = options.spawner === false ? null : new Spawner({ warm: options.warm ?? true });
  }

  /**
   * Starts the spawner process. It must exist before any FUSE mount (a process forked afterwards
   * inherits /dev/fuse and would keep a dead mount alive): call it early, its start-up overlaps
   * whatever the caller does next (loading a vault).
   */
  start(): Promise<void> {
    return this.spawner?.start() ?? Promise.resolve();
  }

  /** Starts one command (the spawner's or in-process launch, as PtySandbox.launch). */
  launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
    return this.spawner ? this.spawner.launch(spec, onStdout, onStderr) : launch(spec, onStdout, onStderr);
  }

  /**
   * Mounts `engine` with FUSE at a fresh 0700 directory (without FUSE: writes it into a shadow
   * directory in /dev/shm, and reads back what the command changed), runs argv there
   * (non-interactive, under a PTY), kills whatever the command left in its process group, and
   * unmounts. The changes come from the engine's own diff against an O(1) fork taken before the command.
   */
  async run(engine: InodeFs, argv: string[], options: RunOptions = {}): Promise<RunResult> {
    await this.start();
    // Before the mount: making the FIFO blocks this process a moment, and nothing may wait on us yet.
    const input = options.stdin ? stdinPipe(options.stdin) : undefined;
    let m: Pick<Mount, 'path' | 'unmount'> & { sync?(): Promise<void>; mounted?: boolean };
    try {
      if (fuseProblem()) {
        await engine.prefetch(); // the shadow holds every file: a lazily opened tree is fetched first
        m = shadowOf(engine);
      } else m = await mount(engine); // (mount() fetches it too)
    } catch (e) {
      input?.close();
      throw e;
    }
    try {
      const before = engine.fork();
      let stdout = '';
      let stderr = '';
      input?.start();
      const proc = await this.launch(
        { command: input ? input.wrap(argv) : argv, cwd: join(m.path, posix.resolve('/', options.cwd ?? '/')), env: buildEnv(m.path, options.env ?? {}), interactive: false },
        (s) => {
          stdout += s;
          options.onStdout?.(s);
        },
        (s) => {
          stderr += s;
          options.onStderr?.(s);
        },
      );
      const kill = () => proc.signal('SIGKILL');
      options.signal?.addEventListener('abort', kill, { once: true });
      if (options.signal?.aborted) kill();
      const exit = await proc.done.finally(() => options.signal?.removeEventListener('abort', kill));
      if (exit.lost) throw new SpawnerLostError(exit.lost);
      // Nothing may outlive its command in the group (grandchildren included).
      proc.signal('SIGKILL');
      // A FUSE mount that is no mount any more: detached from outside while the command ran.
      const lost = m.mounted !== undefined && (!m.mounted || !fuseMounts().some((e) => e.path === m.path));
      await m.sync?.(); // sync mode: what the command changed, into the engine
      const result: RunResult = { exitCode: exitCodeOf(exit), stdout, stderr, changes: engineChanges(before, engine) };
      releaseEngine(before); // the earlier state it holds on the serving thread goes now, not at some GC
      if (lost) {
        input?.close();
        await m.unmount();
        result.mountLost = { discarded: clearLeftovers(m.path) };
      }
      return result;
    } finally {
      input?.close();
      await m.unmount();
    }
  }

  /** Ends the spawner (it kills what it still runs). */
  stop(): void {
    this.spawner?.stop();
  }
}

/**
 * Removes the plain directory left where a lost mount was (the run's own fresh directory, no mount
 * point any more), with whatever the command wrote into it after the mount went; returns those paths.
 */
function clearLeftovers(dir: string): string[] {
  if (!existsSync(dir) || fuseMounts(true).some((e) => e.path === dir || e.path.startsWith(`${dir}/`))) return [];
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      found.push(`/${relative(dir, p)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  try {
    walk(dir);
  } catch {
    // listed what could be listed
  }
  rmSync(dir, { recursive: true, force: true });
  return found.sort();
}

/** Sync mode for one run: the engine written into a fresh shadow directory, synced back by sync(). */
function shadowOf(engine: InodeFs): { path: string; sync(): Promise<void>; unmount(): Promise<void> } {
  const dir = makeShadowDir();
  const shadow = ShadowMount.create({ engine }, '/', dir);
  return {
    path: dir,
    sync: () => shadow.sync(),
    async unmount() {
      await shadow.unmount();
      forget(dir);
    },
  };
}
