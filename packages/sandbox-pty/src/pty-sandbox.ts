// PtySandbox: a Mastra WorkspaceSandbox that runs real host binaries under a pseudo-terminal, inside
// the working directory where Workspace mounts (InodeFilesystems over FUSE) appear.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  MastraSandbox,
  type CommandResult,
  type ExecuteCommandOptions,
  type MountResult,
  type SandboxInfo,
  type WorkspaceFilesystem,
  type WorkspaceSandbox,
} from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { fuseProblem } from '@vws/fuse';
import { buildEnv } from './env.js';
import { bwrapPrefix } from './isolation.js';
import { mountFilesystem, noChanges, type ActiveMount, type Changes } from './mounts.js';
import { parseSandboxOptions, type PtySandboxOptions, type PolicyDecision } from './options.js';
import { PtyProcessHandle, PtyProcessManager } from './process-manager.js';
import type { Launched, LaunchSpec } from './launcher.js';
import { Runner } from './runner.js';
import { forget, makeShadowDir } from './shadow-dir.js';

type ProviderStatus = 'pending' | 'initializing' | 'ready' | 'starting' | 'running' | 'stopping' | 'stopped' | 'destroying' | 'destroyed' | 'error';

/** A command result with the files the command created, modified and deleted. */
export interface PtyCommandResult extends CommandResult {
  changes: Changes;
  /** Set when the policy took a checkpoint before the run. */
  checkpoint?: string;
}

export class CommandDeniedError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`command denied by the sandbox policy: ${reason} (${command})`);
    this.name = 'CommandDeniedError';
  }
}

export class PtySandbox extends MastraSandbox {
  readonly id: string;
  readonly name = 'PtySandbox';
  readonly provider = 'vws-pty';
  status: ProviderStatus = 'pending';
  override readonly supportsCheckpoints = true;
  declare readonly processes: PtyProcessManager;
  readonly killGraceMs: number;
  private readonly opts: ReturnType<typeof parseSandboxOptions>;
  private readonly ownDir: boolean;
  private readonly active = new Map<string, ActiveMount>();
  private readonly running = new Set<PtyProcessHandle>();
  /** Processes of executeCommand (synced by it, not on exit). */
  private readonly foreground = new Set<string>();
  private backgroundSyncError?: Error;
  private readonly createdAt = new Date();
  private checkpointCounter = 0;
  /** Forks commands from a small helper process (see spawner-main.ts), or in-process when spawner is off. */
  private readonly runner: Runner;
  private lastSnapshot?: string;

  constructor(options: PtySandboxOptions = {}) {
    const o = parseSandboxOptions(options);
    // Without FUSE, mounts are shadow directories under the working directory: then it lives on the
    // fastest local filesystem (/dev/shm) and is cleared after a crash (shadow-dir.ts).
    const workingDirectory = o.workingDirectory ? resolve(o.workingDirectory) : o.syncMode || fuseProblem() ? makeShadowDir() : mkdtempSync(join(tmpdir(), 'vws-sbx-'));
    super({ name: 'PtySandbox', workingDirectory, env: o.env, processes: new PtyProcessManager() });
    this.ownDir = !o.workingDirectory;
    this.opts = o;
    this.id = o.id ?? `vws-pty-${Math.random().toString(36).slice(2, 10)}`;
    this.killGraceMs = o.killGraceMs ?? 2000;
    this.runner = new Runner({ spawner: o.spawner !== false });
    if (o.isolation === 'bwrap') bwrapPrefix([], '/'); // fails now, clearly, when bwrap is missing
  }

  // ------------------------------------------------------------------ lifecycle

  override async start(): Promise<void> {
    await this.runner.start();
  }

  /**
   * @internal Starts one command, through the spawner process unless it is off. Background processes
   * come through here too: they must also see every API write made before them.
   */
  async launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
    await Promise.all([...this.active.values()].map((m) => m.settle?.()));
    return this.runner.launch(spec, onStdout, onStderr);
  }

  override async stop(): Promise<void> {
    await this.killAll();
  }

  override async destroy(): Promise<void> {
    await this.killAll();
    this.runner.stop();
    for (const path of [...this.active.keys()]) await this.unmount(path);
    if (this.ownDir) {
      rmSync(this.workingDirectory!, { recursive: true, force: true });
      forget(this.workingDirectory!);
    }
  }

  /**
   * Sync mode: brings every shadow and its engine level now, both ways. Commands do this on their
   * own (API writes before they start, their changes before they return) and a background process
   * when it exits; call it to see a still-running background process's changes through the API.
   */
  async sync(): Promise<void> {
    const failed = this.backgroundSyncError;
    this.backgroundSyncError = undefined;
    if (failed) throw failed;
    await this.syncShadows();
  }

  private async syncShadows(): Promise<void> {
    for (const m of this.active.values()) await m.sync?.();
  }

  private async killAll(): Promise<void> {
    await Promise.all([...this.running].map((h) => h.kill().catch(() => false)));
  }

  /** @internal */
  track(handle: PtyProcessHandle): void {
    this.running.add(handle);
    void handle.wait().finally(() => {
      this.running.delete(handle);
      // A background process's changes in a shadow directory reach the engine when it exits (a
      // command's, when executeCommand returns). A failure is kept for the next sync() call.
      if (this.foreground.has(handle.pid) || this.status === 'destroying' || this.status === 'destroyed') return;
      this.syncShadows().catch((e: unknown) => (this.backgroundSyncError ??= e as Error));
    });
  }

  // ------------------------------------------------------------------ running commands

  /** @internal cwd, env and containment for one run. */
  prepareRun(cwd: string | undefined, env: Record<string, string | undefined> | undefined) {
    const base = this.workingDirectory!;
    const dir = cwd === undefined ? base : isAbsolute(cwd) ? cwd : resolve(base, cwd);
    return {
      cwd: dir,
      env: buildEnv(base, { env: this.getEnv(), inheritNames: this.opts.inheritEnvNames, inheritEnv: this.opts.inheritEnv }, env as Record<string, string | undefined>),
      contain: this.opts.isolation === 'bwrap' ? { writable: [base] } : undefined,
    };
  }

  private decide(command: string, args: string[]): PolicyDecision {
    const line = [command, ...args].join(' ');
    const program = command.trim().split(/\s+/)[0] ?? '';
    if (this.opts.deny?.some((d) => d === program || (d.endsWith('*') && line.startsWith(d.slice(0, -1))))) return { decision: 'deny', reason: `'${program}' is on the deny list` };
    if (this.opts.allow && !this.opts.allow.includes(program)) return { decision: 'deny', reason: `'${program}' is not on the allow list` };
    const p = this.opts.policy?.({ command, args, line });
    if (!p) return { decision: 'allow' };
    return typeof p === 'string' ? { decision: p } : p;
  }

  /** Checkpoints every mounted InodeFilesystem under one name; returns it. */
  checkpointMounts(name = `vws-${++this.checkpointCounter}`): string {
    for (const m of this.active.values()) if (m.filesystem instanceof InodeFilesystem) m.filesystem.checkpoint(name);
    return name;
  }

  override async executeCommand(command: string, args: string[] = [], options: ExecuteCommandOptions = {}): Promise<PtyCommandResult> {
    await this.ensureRunning();
    const verdict = this.decide(command, args);
    if (verdict.decision === 'deny') throw new CommandDeniedError([command, ...args].join(' '), verdict.reason ?? 'denied');
    const checkpoint = verdict.decision === 'checkpoint' ? this.checkpointMounts() : undefined;
    const finishers = await Promise.all([...this.active.values()].map((m) => m.begin()));
    const handle = await this.processes.spawn(args.length ? command : command, {
      ...options,
      ...(args.length ? { originalInvocation: { command, args } } : {}),
      stdinMode: 'ignore',
      maxRetainedBytes: options.maxRetainedBytes ?? this.opts.maxRetainedBytes ?? Infinity,
    });
    this.foreground.add(handle.pid);
    try {
      const result = await handle.wait({ onStdout: options.onStdout, onStderr: options.onStderr, abortSignal: options.abortSignal });
      const changes = noChanges();
      for (const finish of finishers) {
        const c = await finish();
        changes.created.push(...c.created);
        changes.modified.push(...c.modified);
        changes.deleted.push(...c.deleted);
      }
      return { ...result, command: [command, ...args].join(' '), args, changes, ...(checkpoint ? { checkpoint } : {}) };
    } finally {
      this.foreground.delete(handle.pid);
      this.processes.release(handle.pid);
    }
  }

  /**
   * Runs a snippet with node, python3 or bash: the code travels as an argument (no file is left in
   * the workspace), cwd is the working directory.
   */
  async executeCode(code: string, options: { runtime: 'node' | 'python' | 'bash'; timeout?: number } & Omit<ExecuteCommandOptions, 'timeout'>): Promise<PtyCommandResult> {
    const argv: Record<typeof options.runtime, [string, string[]]> = { node: ['node', ['-e', code]], python: ['python3', ['-c', code]], bash: ['bash', ['-c', code]] };
    const [cmd, args] = argv[options.runtime];
    return this.executeCommand(cmd, args, options);
  }

  /** Installs a package into the workspace with npm (node_modules) or pip (a --target directory). */
  async installPackage(name: string, options: { manager: 'npm' | 'pip'; timeout?: number } & Omit<ExecuteCommandOptions, 'timeout'>): Promise<PtyCommandResult> {
    if (!/^[@a-zA-Z0-9._/=<>~^-]+$/.test(name)) throw new Error(`installPackage: '${name}' is not a package name`);
    // Package managers need the host's registry and TLS settings (HOME is the workspace here), and
    // their caches stay out of the workspace.
    const env: Record<string, string> = { npm_config_cache: join(tmpdir(), 'vws-npm-cache'), npm_config_update_notifier: 'false', PIP_CACHE_DIR: join(tmpdir(), 'vws-pip-cache') };
    const npmrc = join(homedir(), '.npmrc');
    if (existsSync(npmrc)) env.npm_config_userconfig = npmrc;
    for (const k of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'PIP_INDEX_URL', 'npm_config_registry']) if (process.env[k]) env[k] = process.env[k]!;
    const opts = { ...options, env: { ...env, ...options.env } };
    if (options.manager === 'npm') return this.executeCommand('npm', ['install', '--no-audit', '--no-fund', '--no-save', name], opts);
    return this.executeCommand('python3', ['-m', 'pip', 'install', '--quiet', '--target', '.pylib', name], opts);
  }

  // ------------------------------------------------------------------ mounts

  override async mount(filesystem: WorkspaceFilesystem, mountPath: string): Promise<MountResult> {
    const path = `/${mountPath.replace(/^\/+|\/+$/g, '')}`;
    const hostPath = path === '/' ? this.workingDirectory! : join(this.workingDirectory!, path);
    if (this.active.has(path)) await this.unmount(path);
    // The spawner must exist before any FUSE mount: a process forked afterwards inherits the
    // /dev/fuse descriptor and would keep a dead mount alive if this process were killed.
    await this.runner.start();
    this.mounts?.set(path, { filesystem, state: 'mounting' });
    try {
      const m = await mountFilesystem(filesystem, path, hostPath, { forceSync: this.opts.syncMode });
      this.active.set(path, m);
      this.mounts?.set(path, { filesystem, state: 'mounted' });
      return { success: true, mountPath: path };
    } catch (e) {
      const error = (e as Error).message;
      this.mounts?.set(path, { filesystem, state: 'error', error });
      return { success: false, mountPath: path, error };
    }
  }

  override async unmount(mountPath: string): Promise<void> {
    const path = `/${mountPath.replace(/^\/+|\/+$/g, '')}`;
    const m = this.active.get(path);
    if (!m) return;
    this.active.delete(path);
    await m.unmount();
    this.mounts?.delete(path);
  }

  /** How each mount is served: 'fuse' or 'sync'. */
  mountModes(): Record<string, 'fuse' | 'sync'> {
    return Object.fromEntries([...this.active].map(([p, m]) => [p, m.mode]));
  }

  // ------------------------------------------------------------------ checkpoints and clones

  /** Mastra's snapshot: an O(1) checkpoint of every mounted InodeFilesystem. */
  override async snapshot(): Promise<void> {
    this.lastSnapshot = this.checkpointMounts(`snapshot-${++this.checkpointCounter}`);
  }

  get latestSnapshot(): string | undefined {
    return this.lastSnapshot;
  }

  /**
   * A new sandbox whose mounts are forks of this one's InodeFilesystems: at `checkpointName` (or
   * `seedCheckpointName`) when given, else their current state. Later writes on either side stay apart.
   */
  clone(options: { id?: string; checkpointName?: string; seedCheckpointName?: string; env?: Record<string, string>; workingDirectory?: string } = {}): WorkspaceSandbox {
    const name = options.checkpointName ?? options.seedCheckpointName;
    const twin = new PtySandbox({ ...this.opts, id: options.id, workingDirectory: options.workingDirectory, env: { ...this.opts.env, ...options.env } });
    for (const [path, m] of this.active) {
      if (!(m.filesystem instanceof InodeFilesystem)) continue;
      const state = name ? m.filesystem.checkpointState(name).fork() : m.filesystem.engine.fork();
      twin.pendingMounts.set(path, new InodeFilesystem({ fs: state }));
    }
    return twin;
  }

  /** Mounts a clone inherits, made on its first start. */
  private readonly pendingMounts = new Map<string, InodeFilesystem>();

  /** The filesystem mounted at a path (for clones: their forks). */
  filesystemAt(mountPath: string): WorkspaceFilesystem | undefined {
    const path = `/${mountPath.replace(/^\/+|\/+$/g, '')}`;
    return this.active.get(path)?.filesystem ?? this.pendingMounts.get(path);
  }

  override async ensureRunning(): Promise<void> {
    await super.ensureRunning();
    for (const [path, fs] of this.pendingMounts) {
      this.pendingMounts.delete(path);
      const r = await this.mount(fs, path);
      if (!r.success) throw new Error(`clone could not mount ${path}: ${r.error}`);
    }
  }

  // ------------------------------------------------------------------ info

  override getInfo(): SandboxInfo {
    return {
      id: this.id,
      name: this.name,
      provider: this.provider,
      status: this.status,
      createdAt: this.createdAt,
      mounts: [...this.active].map(([path, m]) => ({ path, filesystem: m.filesystem.provider })),
      metadata: { workingDirectory: this.workingDirectory, isolation: this.opts.isolation ?? 'none', mountModes: this.mountModes(), running: this.running.size },
    };
  }

  override getInstructions(): string {
    return (
      `Commands run under a pseudo-terminal in ${this.workingDirectory} with a curated environment ` +
      `(HOME is the workspace). Files written with the workspace file tools are seen by the next command at once.` +
      (this.opts.isolation === 'bwrap' ? ' The host is read-only and there is no network.' : '')
    );
  }
}
