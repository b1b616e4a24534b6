// The composer: one call gives an Agent-ready Mastra Workspace whose InodeFilesystem is FUSE-mounted
// at the PtySandbox's working directory, so the mastra_workspace_* file tools and
// mastra_workspace_execute_command see the same files; plus our own tools and per-turn checkpoints.

import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Workspace } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { InodeFs } from '@vws/inode-fs';
import { PtySandbox, type Policy } from '@vws/sandbox-pty';
import { z } from 'zod';
import { createVwsTools, type VwsTools } from './tools.js';

const run = promisify(execFile);

const optionsSchema = z
  .object({
    id: z.string().optional(),
    /** An engine state to work on, e.g. `(await openFromStore(store, id)).engine` from @vws/store. */
    engine: z.instanceof(InodeFs).optional(),
    /** Initial files: a map of path -> content, or a host directory to import. */
    files: z.union([z.record(z.string(), z.union([z.string(), z.instanceof(Uint8Array)])), z.string()]).optional(),
    quota: z.object({ bytes: z.number().int().positive().optional(), inodes: z.number().int().positive().optional() }).strict().optional(),
    clock: z.custom<() => bigint>((v) => typeof v === 'function').optional(),
    env: z.record(z.string(), z.string()).optional(),
    inheritEnvNames: z.array(z.string()).optional(),
    isolation: z.enum(['none', 'bwrap']).optional(),
    /** Serve the workspace in the sandbox's sync mode (a shadow directory) even where FUSE works. */
    syncMode: z.boolean().optional(),
    policy: z.custom<Policy>((v) => typeof v === 'function').optional(),
    allow: z.array(z.string()).optional(),
    deny: z.array(z.string()).optional(),
    /** Default timeout for commands the agent runs (ms). */
    timeoutMs: z.number().int().positive().optional(),
    /** Checkpoint before every turn run through vws.turn(), named turn-1, turn-2, ... */
    perTurnCheckpoints: z.boolean().optional(),
    /**
     * Passed to Mastra's Workspace as `tools` (per-tool config of the mastra_workspace_* tools); our
     * vws_* tools obey it too (enabled, requireApproval, name, hooks; keyed by their ids).
     */
    toolsConfig: z.record(z.string(), z.unknown()).optional(),
    /** Read-only (the filesystem's readOnly): Mastra leaves the write tools out, and commands cannot write either (EROFS). */
    readOnly: z.boolean().optional(),
    // ---- Passed through to Mastra's Workspace unchanged (see its WorkspaceConfig).
    name: z.string().optional(),
    skills: z.unknown().optional(),
    skillSource: z.unknown().optional(),
    checkSkillFileMtime: z.boolean().optional(),
    bm25: z.unknown().optional(),
    vectorStore: z.unknown().optional(),
    embedder: z.unknown().optional(),
    searchIndexName: z.string().optional(),
    autoIndexPaths: z.array(z.string()).optional(),
    lsp: z.unknown().optional(),
    /**
     * Not supported here yet (refused with the reason): Mastra's Workspace takes either a filesystem
     * or mounts, and a filesystem mounted inside the FUSE-mounted root is exported into it by sync
     * mode. Build `new Workspace({ mounts: { '/workspace': new InodeFilesystem(), '/data': ... },
     * sandbox: new PtySandbox() })` instead.
     */
    mounts: z.record(z.string(), z.unknown()).optional(),
    onMount: z.unknown().optional(),
    instructions: z.unknown().optional(),
    operationTimeout: z.number().optional(),
    autoSync: z.boolean().optional(),
  })
  .strict();

/** The options that go to Mastra's Workspace as they are. */
const WORKSPACE_PASSTHROUGH = ['name', 'skills', 'skillSource', 'checkSkillFileMtime', 'bm25', 'vectorStore', 'embedder', 'searchIndexName', 'autoIndexPaths', 'lsp', 'onMount', 'instructions', 'operationTimeout', 'autoSync'] as const;

export type VwsWorkspaceOptions = z.input<typeof optionsSchema>;

export interface VwsWorkspace {
  workspace: Workspace;
  filesystem: InodeFilesystem;
  sandbox: PtySandbox;
  /** Our tools, to hand to an Agent: `new Agent({ ..., workspace, tools: vws.tools })`. */
  tools: VwsTools;
  /** Host path where the workspace is mounted (commands run here). */
  readonly path: string;
  readonly defaultTimeoutMs: number;
  /** Runs one conversation turn; with perTurnCheckpoints, checkpoints `turn-N` first. */
  turn<T>(fn: () => Promise<T>): Promise<T>;
  /** Names of the per-turn checkpoints so far. */
  turns(): string[];
  /** Rewinds the workspace to the state before turn n (1-based). */
  rewindTo(n: number): void;
  /** Copies the workspace out to a host directory, or to a .tar / .tar.gz file. */
  exportTo(target: string): Promise<void>;
  destroy(): Promise<void>;
}

/** Reads a host directory into the engine: files, directories, symlinks and modes. */
async function importHostDir(fs: InodeFilesystem, dir: string): Promise<void> {
  const walk = async (host: string, rel: string) => {
    for (const name of await readdir(host)) {
      const h = join(host, name);
      const p = `${rel}/${name}`;
      const st = await lstat(h);
      if (st.isSymbolicLink()) fs.engine.symlink(await readlink(h), p);
      else if (st.isDirectory()) {
        fs.engine.mkdir(p);
        await walk(h, p);
        fs.engine.chmod(p, st.mode & 0o7777);
      } else if (st.isFile()) {
        fs.engine.writeFile(p, await readFile(h));
        fs.engine.chmod(p, st.mode & 0o7777);
      }
    }
  };
  await walk(dir, '');
}

async function exportEngine(fs: InodeFilesystem, dir: string): Promise<void> {
  const e = fs.engine;
  await e.prefetch(); // every file is written out: a tree opened lazily from a store is fetched first
  await mkdir(dir, { recursive: true });
  const walk = async (rel: string) => {
    for (const entry of e.readdir(rel === '' ? '/' : rel, { withFileTypes: true })) {
      const p = `${rel}/${entry.name}`;
      const out = join(dir, p);
      if (entry.kind === 'symlink') await symlink(e.readlink(p), out);
      else if (entry.kind === 'directory') {
        await mkdir(out, { recursive: true });
        await walk(p);
        await chmod(out, e.stat(p).mode & 0o7777);
      } else if (entry.kind === 'file') {
        await writeFile(out, e.readFile(p));
        await chmod(out, e.stat(p).mode & 0o7777);
      }
    }
  };
  await walk('');
}

/** One call: an Agent-ready Mastra Workspace on vws. */
export async function createVwsWorkspace(options: VwsWorkspaceOptions = {}): Promise<VwsWorkspace> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`createVwsWorkspace: invalid options: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')}`);
  const o = parsed.data;
  if (o.mounts) {
    throw new TypeError(
      "createVwsWorkspace: mounts: not supported by the composer (Mastra's Workspace takes a filesystem or mounts, not both, and the composer's filesystem is the FUSE-mounted root). " +
        "Build the Workspace yourself: new Workspace({ mounts: { '/workspace': new InodeFilesystem(), '/data': otherFs }, sandbox: new PtySandbox() }).",
    );
  }
  const files = typeof o.files === 'object' ? o.files : undefined;
  // A host directory is imported before the filesystem turns read-only.
  const filesystem = new InodeFilesystem({ fs: o.engine, quota: o.quota, clock: o.clock, files, readOnly: o.readOnly && typeof o.files !== 'string' });
  if (typeof o.files === 'string') await importHostDir(filesystem, o.files);
  const fsReadOnly = o.readOnly && typeof o.files === 'string' ? filesystem.fork({ readOnly: true }) : filesystem;
  const defaultTimeoutMs = o.timeoutMs ?? 120_000;
  // timeoutMs is every command's default timeout, execute_command's included.
  const sandbox = new PtySandbox({ id: o.id, env: o.env, inheritEnvNames: o.inheritEnvNames, isolation: o.isolation, syncMode: o.syncMode, policy: o.policy, allow: o.allow, deny: o.deny, timeout: defaultTimeoutMs });
  const passthrough = Object.fromEntries(WORKSPACE_PASSTHROUGH.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  const workspace = new Workspace({
    id: o.id,
    ...passthrough,
    filesystem: fsReadOnly,
    sandbox,
    ...(o.mounts ? { mounts: o.mounts as never } : {}),
    ...(o.toolsConfig ? { tools: o.toolsConfig as never } : {}),
  } as never);
  await workspace.init();
  // The filesystem's root becomes the sandbox's working directory (FUSE; sync mode without FUSE).
  const mounted = await sandbox.mount(fsReadOnly, '/');
  if (!mounted.success) {
    await workspace.destroy();
    throw new Error(`createVwsWorkspace: mounting the filesystem failed: ${mounted.error}`);
  }
  const turnNames: string[] = [];
  const vws: VwsWorkspace = {
    workspace,
    filesystem: fsReadOnly as InodeFilesystem,
    sandbox,
    tools: undefined as never,
    path: sandbox.workingDirectory!,
    defaultTimeoutMs,
    async turn(fn) {
      if (o.perTurnCheckpoints) {
        const name = `turn-${turnNames.length + 1}`;
        filesystem.checkpoint(name);
        turnNames.push(name);
      }
      return fn();
    },
    turns: () => [...turnNames],
    rewindTo(n) {
      const name = turnNames[n - 1];
      if (!name) throw new Error(`no turn ${n} (have ${turnNames.length}; per-turn checkpoints are ${o.perTurnCheckpoints ? 'on' : 'off'})`);
      filesystem.restore(name);
    },
    async exportTo(target) {
      if (/\.tar(\.gz)?$|\.tgz$/.test(target)) {
        // tar reads the engine through the mount; it runs in its own process, so nothing here blocks.
        // In sync mode the shadow directory is brought level with the engine first.
        await sandbox.sync();
        await run('tar', [target.endsWith('.tar') ? '-cf' : '-czf', target, '-C', vws.path, '.'], { cwd: '/' });
      } else await exportEngine(filesystem, target);
    },
    async destroy() {
      await workspace.destroy();
      await sandbox.destroy();
    },
  };
  vws.tools = await createVwsTools(vws, o.toolsConfig as never);
  return vws;
}
