// PtySandbox: a Mastra WorkspaceSandbox that runs real host binaries under a pseudo-terminal, inside
// the working directory where Workspace mounts (InodeFilesystems over FUSE) appear.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { cpus, homedir, platform, tmpdir, totalmem } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
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
import { checkLists, deniedExecutables } from './policy.js';
import { reapsExactly } from './reaper.js';
import { mountFilesystem, noChanges, type ActiveMount, type Changes } from './mounts.js';
import { parseSandboxOptions, type PtySandboxOptions, type PolicyDecision } from './options.js';
import { PtyProcessHandle, PtyProcessManager } from './process-manager.js';
import type { Launched, LaunchSpec } from './launcher.js';
import { loadCheckpoint, saveCheckpoint } from './named-checkpoints.js';
import { Runner } from './runner.js';
import { claimShadowDir, forget, shadowDirName } from './shadow-dir.js';
import { InodeFs } from '@vws/inode-fs';

/**
 * The host's CPU count, as LocalSandbox reports it (os.cpus().length), read once: os.cpus() parses
 * /proc/cpuinfo (~100 µs), and Mastra asks for the sandbox's info at every tool call.
 */
let cpuCores: number | undefined;
const cpuCount = (): number => (cpuCores ??= cpus().length);

/** The shell every run starts in: never bound over under bubblewrap (denying bash stays a command-line check). */
const LAUNCHER_SHELLS = new Set(['/usr/bin/bash', '/bin/bash'].flatMap((p) => {
  try {
    return [realpathSync(p)];
  } catch {
    return [];
  }
}));

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

/** Why sync mode cannot serve a filesystem (it needs these members), or undefined when it can. */
function unservable(fs: WorkspaceFilesystem): string | undefined {
  if (fs instanceof InodeFilesystem) return undefined;
  const missing = (['readdir', 'readFile', 'writeFile', 'mkdir', 'deleteFile', 'rmdir', 'stat'] as const).filter((k) => typeof (fs as unknown as Record<string, unknown>)[k] !== 'function');
  return missing.length ? `it has no ${missing.join(', ')} (PtySandbox mounts InodeFilesystems with FUSE and other filesystems by copying through these methods)` : undefined;
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
  /** Where named checkpoints are kept (Mastra's checkpointsDirectory). */
  readonly checkpointsDirectory: string;
  /** Mount points this sandbox made (removed again on unmount). */
  private readonly madeDirs = new Set<string>();
  /** The saved checkpoint that seeds empty mounts (checkpointName, else seedCheckpointName), loaded once. */
  private seed?: Promise<Map<string, InodeFs> | undefined>;

  constructor(options: PtySandboxOptions = {}) {
    const o = parseSandboxOptions(options);
    // Our own directory is made on first use, so a sandbox that never ran leaves nothing behind.
    // Without FUSE, mounts are shadow directories under it: then it lives on the fastest local
    // filesystem (/dev/shm) and is cleared after a crash (shadow-dir.ts).
    const syncHere = !o.workingDirectory && (o.syncMode || fuseProblem() !== undefined);
    const workingDirectory = o.workingDirectory ? resolve(o.workingDirectory) : syncHere ? shadowDirName() : join(tmpdir(), `vws-sbx-${randomBytes(6).toString('hex')}`);
    super({ name: 'PtySandbox', workingDirectory, env: o.env, processes: new PtyProcessManager(), onStart: o.onStart as never, onStop: o.onStop as never, onDestroy: o.onDestroy as never });
    this.shadowHome = syncHere;
    this.ownDir = !o.workingDirectory;
    this.checkpointsDirectory = o.checkpointsDirectory ? resolve(o.checkpointsDirectory) : join(dirname(workingDirectory), '.checkpoints');
    this.opts = o;
    this.id = o.id ?? `vws-pty-${Math.random().toString(36).slice(2, 10)}`;
    this.killGraceMs = o.killGraceMs ?? 2000;
    this.runner = new Runner({ spawner: o.spawner !== false });
    if (o.isolation === 'bwrap') bwrapPrefix([], '/'); // fails now, clearly, when bwrap is missing
  }

  // ------------------------------------------------------------------ lifecycle

  override async start(): Promise<void> {
    this.ensureDir();
    // A given working directory is made if missing, as LocalSandbox does; one that cannot be (under a
    // file, no permission) fails the start. Async: it may be a FUSE mount this process serves.
    if (!this.ownDir) await mkdir(this.workingDirectory!, { recursive: true });
    await this.runner.start();
    // Mounts made before the start are seeded now; later ones as they are mounted.
    for (const [path, m] of this.active) await this.seedMount(path, m.filesystem);
    // What stop() unmounted comes back.
    for (const [path, fs] of this.stopped.splice(0)) {
      const r = await this.mount(fs, path);
      if (!r.success) throw new Error(`PtySandbox: remounting ${path} after a stop failed: ${r.error}`);
    }
  }

  /** Mounts taken down by stop(), made again by the next start(). */
  private readonly stopped: Array<[string, WorkspaceFilesystem]> = [];

  /** Makes our own working directory once (no stat: it may be a FUSE mount this process serves). */
  private ensureDir(): void {
    if (!this.ownDir || this.dirMade) return;
    if (this.shadowHome) claimShadowDir(this.workingDirectory!);
    else mkdirSync(this.workingDirectory!, { mode: 0o700 });
    this.dirMade = true;
  }
  private dirMade = false;
  /** Our working directory is a shadow home (sync mode): in /dev/shm, cleared after a crash. */
  private readonly shadowHome: boolean;

  /** stdin of spawned processes (option `stdin`). */
  get stdinMode(): 'pipe' | 'terminal' {
    return this.opts.stdin ?? 'pipe';
  }

  /**
   * @internal Starts one command, through the spawner process unless it is off. Background processes
   * come through here too: they must also see every API write made before them.
   */
  async launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
    await Promise.all([...this.active.values()].map((m) => m.settle?.()));
    return this.runner.launch(spec, onStdout, onStderr);
  }

  /**
   * As LocalSandbox's: kills what runs and unmounts (so `new Mastra({ workspace }).shutdown()` leaves
   * no mount behind); the spawner ends too. start() makes the same mounts again.
   */
  override async stop(): Promise<void> {
    await this.killAll();
    for (const [path, m] of [...this.active]) {
      this.stopped.push([path, m.filesystem]);
      await this.unmount(path);
    }
    this.runner.stop();
  }

  override async destroy(): Promise<void> {
    await this.killAll();
    this.runner.stop();
    for (const path of [...this.active.keys()]) await this.unmount(path);
    this.stopped.length = 0;
    if (this.ownDir && this.dirMade) {
      rmSync(this.workingDirectory!, { recursive: true, force: true });
      forget(this.workingDirectory!);
    }
    this.dirMade = false;
    // A start after destroy (a clone's, or Mastra's restart) loads the seed again.
    this.seed = undefined;
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
    const ns = this.opts.nativeSandbox ?? {};
    const runEnv = buildEnv(base, { env: this.getEnv(), inheritNames: this.opts.inheritEnvNames, inheritEnv: this.opts.inheritEnv }, env as Record<string, string | undefined>);
    return {
      cwd: dir,
      env: runEnv,
      contain: this.opts.isolation === 'bwrap' ? this.containment(base, runEnv.PATH ?? '') : undefined,
    };
  }

  /**
   * What bubblewrap gets: the workspace (and readWritePaths) writable; hidden: $VWS_HOME, this
   * process's cwd (the project) and hidePaths; denied programs bound over with /dev/null.
   */
  private containment(base: string, path: string) {
    const ns = this.opts.nativeSandbox ?? {};
    const vwsHome = process.env.VWS_HOME || join(homedir(), '.vws');
    const hide = [vwsHome, process.cwd(), ...(this.opts.hidePaths ?? []).map((p) => resolve(p))].filter((p) => existsSync(p));
    return { writable: [base, ...(ns.readWritePaths ?? []).map((p) => resolve(base, p))], readOnly: (ns.readOnlyPaths ?? []).map((p) => resolve(base, p)), allowNetwork: ns.allowNetwork, hide, deny: deniedExecutables(this.opts.deny ?? [], path).filter((p) => !LAUNCHER_SHELLS.has(p)) };
  }

  private decide(command: string, args: string[]): PolicyDecision {
    const line = [command, ...args].join(' ');
    // Every program the line runs, by name and by resolved executable (not a boundary: see policy.ts).
    const path = buildEnv(this.workingDirectory!, { env: this.getEnv(), inheritNames: this.opts.inheritEnvNames, inheritEnv: this.opts.inheritEnv }).PATH ?? '';
    const lists = checkLists(line, { allow: this.opts.allow, deny: this.opts.deny }, { path, cwd: this.workingDirectory!, argv: args.length ? [command, ...args] : undefined });
    if (lists.denied) return { decision: 'deny', reason: lists.reason };
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
      timeout: options.timeout ?? this.opts.timeout,
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
    const path = `/${mountPath.split('/').filter(Boolean).join('/')}`;
    const fail = (error: string): MountResult => {
      this.mounts?.set(path, { filesystem, state: 'error', error });
      return { success: false, mountPath: path, error };
    };
    if (!/^[A-Za-z0-9._\-/]+$/.test(mountPath) || path.split('/').some((s) => s === '.' || s === '..')) {
      return fail(`Invalid mount path: ${mountPath}. Must be an absolute path with alphanumeric, dash, dot, underscore, or slash characters only, without "." or ".." segments.`);
    }
    const hostPath = path === '/' ? this.workingDirectory! : join(this.workingDirectory!, path);
    if (this.active.has(path)) await this.unmount(path);
    // A mount needs a started sandbox (Mastra's destroy skips one that never started, which would
    // leave the mount point and directory behind). Within start (Mastra's pending mounts, our
    // remounts) the status is no longer 'pending'.
    if (this.status === 'pending') await this._start();
    this.ensureDir();
    // As LocalSandbox: never hide files that are already there.
    let existed = false;
    try {
      const entries = await readdir(hostPath);
      existed = true;
      if (entries.length > 0 && path !== '/') return fail(`Cannot mount at ${hostPath}: directory exists and is not empty. Mounting would hide existing files. Use a different path or empty the directory first.`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return fail(`Cannot mount at ${hostPath}: path is a regular file. Use a different mount path or remove the file first.`);
    }
    const cannot = unservable(filesystem);
    if (cannot) return fail(`Cannot mount ${filesystem.provider ?? 'this'} filesystem "${filesystem.id}" at ${path}: ${cannot}`);
    // The spawner must exist before any FUSE mount: a process forked afterwards inherits the
    // /dev/fuse descriptor and would keep a dead mount alive if this process were killed.
    await this.runner.start();
    this.mounts?.set(path, { filesystem, state: 'mounting' });
    try {
      if (this.status === 'running') await this.seedMount(path, filesystem);
      const m = await mountFilesystem(filesystem, path, hostPath, { forceSync: this.opts.syncMode });
      this.active.set(path, m);
      if (!existed && path !== '/') this.madeDirs.add(hostPath);
      this.mounts?.set(path, { filesystem, state: 'mounted' });
      return { success: true, mountPath: path };
    } catch (e) {
      return fail((e as Error).message);
    }
  }

  override async unmount(mountPath: string): Promise<void> {
    const path = `/${mountPath.split('/').filter(Boolean).join('/')}`;
    const m = this.active.get(path);
    if (!m) return;
    this.active.delete(path);
    await m.unmount();
    this.mounts?.delete(path);
    // The mount point goes too when this sandbox made it (as LocalSandbox removes its link).
    if (this.madeDirs.delete(m.hostPath)) await rmdir(m.hostPath).catch(() => {});
  }

  /** How each mount is served: 'fuse' or 'sync'. */
  mountModes(): Record<string, 'fuse' | 'sync'> {
    return Object.fromEntries([...this.active].map(([p, m]) => [p, m.mode]));
  }

  // ------------------------------------------------------------------ checkpoints and clones

  /**
   * Mastra's snapshot: an O(1) checkpoint of every mounted InodeFilesystem, named by `checkpointName`
   * when set (and then also saved to checkpointsDirectory, for clones and later processes).
   */
  override async snapshot(): Promise<void> {
    const name = this.opts.checkpointName;
    this.lastSnapshot = this.checkpointMounts(name ?? `snapshot-${++this.checkpointCounter}`);
    if (name) await saveCheckpoint(this.checkpointsDirectory, name, this.inodeMounts((fs) => fs.engine));
  }

  /** Each mounted InodeFilesystem, by mount path, mapped through `pick`. */
  private inodeMounts<T>(pick: (fs: InodeFilesystem) => T): Map<string, T> {
    const out = new Map<string, T>();
    for (const [path, m] of this.active) if (m.filesystem instanceof InodeFilesystem) out.set(path, pick(m.filesystem));
    return out;
  }

  /** Fills an empty InodeFilesystem mounted at `path` from the seed checkpoint, if it has that path. */
  private async seedMount(path: string, fs: WorkspaceFilesystem): Promise<void> {
    if (!(fs instanceof InodeFilesystem) || (!this.opts.checkpointName && !this.opts.seedCheckpointName)) return;
    if (fs.engine.readdir('/').length > 0) return; // as LocalSandbox: only an empty tree is seeded
    this.seed ??= (async () => {
      for (const name of [this.opts.checkpointName, this.opts.seedCheckpointName]) {
        const saved = name ? await loadCheckpoint(this.checkpointsDirectory, name) : undefined;
        if (saved) return saved;
      }
      return undefined;
    })();
    const state = (await this.seed)?.get(path);
    if (state) fs.engine.reset(state.fork());
  }

  get latestSnapshot(): string | undefined {
    return this.lastSnapshot;
  }

  /**
   * A new sandbox whose mounts are forks of this one's InodeFilesystems: at `checkpointName` (or
   * `seedCheckpointName`) when given, else their current state. Later writes on either side stay apart.
   */
  clone(options: { id?: string; checkpointName?: string; seedCheckpointName?: string; env?: Record<string, string>; workingDirectory?: string } = {}): WorkspaceSandbox {
    const checkpointName = options.checkpointName ?? this.opts.checkpointName;
    const seedCheckpointName = options.seedCheckpointName ?? this.opts.seedCheckpointName;
    const twin = new PtySandbox({ ...this.opts, id: options.id, workingDirectory: options.workingDirectory, env: { ...this.opts.env, ...options.env }, checkpointName, seedCheckpointName });
    const named = options.checkpointName !== undefined || options.seedCheckpointName !== undefined;
    for (const [path, fs] of this.inodeMounts((f) => f)) {
      // A name held in memory forks at once; otherwise the twin starts empty and seeds from
      // checkpointsDirectory on start (nothing saved under either name: it stays empty, as LocalSandbox's).
      const held = [options.checkpointName, options.seedCheckpointName].find((n) => n !== undefined && fs.listCheckpoints().some((c) => c.name === n));
      const state = held ? fs.checkpointState(held).fork() : named ? new InodeFs() : fs.engine.fork();
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

  /** What LocalSandbox gives (resources, platform, isolation) and our own fields (mounts, modes). */
  override getInfo(): SandboxInfo {
    const isolation = this.opts.isolation ?? 'none';
    const ns = this.opts.nativeSandbox ?? {};
    return {
      id: this.id,
      name: this.name,
      provider: this.provider,
      status: this.status,
      createdAt: this.createdAt,
      resources: { memoryMB: Math.round(totalmem() / 1024 / 1024), cpuCores: cpuCount() },
      mounts: [...this.active].map(([path, m]) => ({ path, filesystem: m.filesystem.provider })),
      metadata: {
        workingDirectory: this.workingDirectory,
        platform: platform(),
        nodeVersion: process.version,
        isolation,
        isolationConfig: isolation !== 'none' ? { allowNetwork: ns.allowNetwork ?? false, readOnlyPaths: ns.readOnlyPaths, readWritePaths: ns.readWritePaths } : undefined,
        mountModes: this.mountModes(),
        // How what a command leaves behind is ended: exactly (a PID namespace, a cgroup per run) or by process group only.
        reaping: isolation === 'bwrap' ? 'pid-namespace' : reapsExactly() ? 'cgroup' : 'process-group',
        running: this.running.size,
      },
    };
  }

  /** As Mastra's providers: a string replaces the default ('' for none), a function derives from it. */
  override getInstructions(opts?: { requestContext?: unknown }): string {
    const custom = this.opts.instructions;
    if (typeof custom === 'string') return custom;
    const defaults = this.defaultInstructions();
    return custom ? custom({ defaultInstructions: defaults, requestContext: opts?.requestContext }) : defaults;
  }

  /** Only what holds for this sandbox as it is: which filesystems commands see, and where. */
  private defaultInstructions(): string {
    const wd = this.workingDirectory!;
    const ns = this.opts.nativeSandbox ?? {};
    const parts = [`Commands run in bash with a pseudo-terminal on stdout, in "${wd}" (also HOME), with a curated environment.`];
    const mounts = [...this.active.values()];
    if (mounts.length) {
      const where = mounts.map((m) => (m.mountPath === '/' ? `the workspace filesystem is "${wd}" itself` : `${m.mountPath} is at "${m.hostPath}"`)).join('; ');
      parts.push(`Mounted: ${where}. Changes made with the file tools are seen by the next command, and the file tools see what commands write there.`);
    }
    if (this.opts.isolation === 'bwrap') parts.push(`The rest of the host is read-only (the project, other workspaces and secrets are hidden)${ns.allowNetwork ? '' : ' and there is no network'}; nothing a command starts outlives it.`);
    return parts.join(' ');
  }
}
