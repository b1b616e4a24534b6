// Workspace tools Mastra does not have, as Mastra tools with zod schemas: checkpoints, diffs with
// unified text patches, forks (branches), and running code or installing packages in the sandbox.
// They obey the Workspace's toolsConfig as Mastra's own tools do (enabled, requireApproval, name,
// hooks), and speak as Mastra's do: timeouts in seconds, paths relative to the workspace root.

import { createTool } from '@mastra/core/tools';
import { resolveToolConfig, type WorkspaceToolsConfig } from '@mastra/core/workspace';
import { ChunkNotFetchedError } from '@vws/inode-fs';
import { createTwoFilesPatch } from 'diff';
import { z } from 'zod';
import type { VwsWorkspace } from './workspace.js';

const MAX_PATCH_BYTES = 64 * 1024;
const decoder = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes) return '';
  if (bytes.subarray(0, 8000).includes(0)) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The changes since a checkpoint, with a unified diff for text files (binary files are named only). */
/** Paths left out of diffs by default: tool state, not the agent's work. */
export const DEFAULT_DIFF_EXCLUDE = ['/.git', '/node_modules', '/.pylib'];

export function diffSince(vws: VwsWorkspace, since: string, patch: boolean, exclude: string[] = DEFAULT_DIFF_EXCLUDE) {
  const fs = vws.filesystem;
  const before = fs.checkpointState(since);
  const now = fs.engine;
  const raw = before.diff(now);
  const keep = (c: { path: string; kind: string }) => c.kind !== 'directory' && !exclude.some((e) => c.path === e || c.path.startsWith(`${e}/`));
  const d = { added: raw.added.filter(keep), modified: raw.modified.filter(keep), deleted: raw.deleted.filter(keep), renamed: raw.renamed.filter(keep) };
  const excluded = raw.added.length + raw.modified.length + raw.deleted.length + raw.renamed.length - (d.added.length + d.modified.length + d.deleted.length + d.renamed.length);
  const read = (state: typeof now, path: string) => {
    try {
      return state.readFile(path);
    } catch (e) {
      if (e instanceof ChunkNotFetchedError) throw e; // not "binary": see diffSinceFetched
      return undefined;
    }
  };
  let patchText = '';
  if (patch) {
    const pairs: Array<[string | undefined, string | undefined]> = [
      ...d.added.map((c) => [undefined, c.path] as [undefined, string]),
      ...d.modified.map((c) => [c.path, c.path] as [string, string]),
      ...d.deleted.map((c) => [c.path, undefined] as [string, undefined]),
      ...d.renamed.map((c) => [c.oldPath, c.path] as [string, string]),
    ];
    for (const [from, to] of pairs) {
      const a = from ? text(read(before, from)) : '';
      const b = to ? text(read(now, to)) : '';
      if (a === undefined || b === undefined) patchText += `Binary files ${from ?? '/dev/null'} and ${to ?? '/dev/null'} differ\n`;
      else if (a !== b || from !== to) patchText += createTwoFilesPatch(from ? `a${from}` : '/dev/null', to ? `b${to}` : '/dev/null', a, b, undefined, undefined, { context: 3 });
      if (patchText.length > MAX_PATCH_BYTES) {
        patchText = patchText.slice(0, MAX_PATCH_BYTES) + '\n[patch truncated]\n';
        break;
      }
    }
  }
  return {
    since,
    added: d.added.map((c) => c.path),
    modified: d.modified.map((c) => c.path),
    deleted: d.deleted.map((c) => c.path),
    renamed: d.renamed.map((c) => ({ from: c.oldPath!, to: c.path })),
    /** Entries left out: directories and paths under `exclude`. */
    excluded,
    ...(patch ? { patch: patchText } : {}),
  };
}

/**
 * diffSince for a workspace opened lazily from a store: the changed files' chunks, on both sides,
 * are fetched first (batched) so that their patches can be made. Costs nothing otherwise.
 */
export async function diffSinceFetched(vws: VwsWorkspace, since: string, patch: boolean, exclude: string[] = DEFAULT_DIFF_EXCLUDE): Promise<ReturnType<typeof diffSince>> {
  try {
    return diffSince(vws, since, patch, exclude);
  } catch (e) {
    if (!(e instanceof ChunkNotFetchedError)) throw e;
  }
  const before = vws.filesystem.checkpointState(since);
  const now = vws.filesystem.engine;
  const d = before.diff(now);
  const files = (cs: Array<{ path: string; kind: string }>) => cs.filter((c) => c.kind === 'file').map((c) => c.path);
  await Promise.all([
    before.prefetch([...files(d.modified), ...files(d.deleted), ...d.renamed.filter((c) => c.kind === 'file').map((c) => c.oldPath!)]),
    now.prefetch([...files(d.added), ...files(d.modified), ...files(d.renamed)]),
  ]);
  return diffSince(vws, since, patch, exclude);
}

/** 'src/a.ts' for '/src/a.ts': the path style of Mastra's tools. */
const rel = (p: string) => p.replace(/^\/+/, '');

/** The last `tail` lines (default 200, 0 for all), marked as execute_command marks them. */
export function tailLines(output: string, tail = 200): string {
  const n = Math.floor(Math.abs(tail));
  if (!output || n === 0) return output;
  const nl = output.endsWith('\n');
  const lines = (nl ? output.slice(0, -1) : output).split('\n');
  if (lines.length <= n) return output;
  return `[showing last ${n} of ${lines.length} lines]\n${lines.slice(-n).join('\n')}${nl ? '\n' : ''}`;
}

const TIMEOUT = z.number().positive().optional();
const TAIL = z.number().int().optional().describe('Limit output to the last N lines, similar to tail -n. Defaults to 200. Use 0 for no limit.');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTool = any;

/** Applies a Workspace's toolsConfig to our tools as Mastra applies it to its own (createWorkspaceTools). */
async function applyToolsConfig(tools: Record<string, AnyTool>, config: WorkspaceToolsConfig | undefined, workspace: unknown): Promise<Record<string, AnyTool>> {
  const out: Record<string, AnyTool> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const c = await resolveToolConfig(config, name as never, { workspace } as never);
    if (!c.enabled) continue;
    let wrapped: AnyTool =
      typeof c.requireApproval === 'function'
        ? { ...tool, requireApproval: true, needsApprovalFn: async (args: unknown, ctx: { requestContext?: unknown } = {}) => Boolean(await (c.requireApproval as (x: unknown) => unknown)({ args, requestContext: ctx.requestContext, workspace })) }
        : { ...tool, requireApproval: Boolean(c.requireApproval) };
    const exposed = c.name ?? name;
    if (out[exposed]) throw new Error(`Duplicate workspace tool name "${exposed}": tool "${name}" conflicts with an already-registered tool. Check your tools config for duplicate "name" values.`);
    if (exposed !== name) wrapped = { ...wrapped, id: exposed };
    if (c.hooks) {
      const hooks = c.hooks;
      const inner = wrapped.execute;
      wrapped = {
        ...wrapped,
        execute: async (input: unknown, context: unknown = {}) => {
          const hookContext = { toolName: exposed, workspaceToolName: name, input, context };
          const before = await hooks.beforeToolCall?.(hookContext as never);
          if (before && (before as { proceed?: boolean }).proceed === false) return (before as { output?: unknown }).output;
          let output: unknown;
          try {
            output = await inner(input, context);
          } catch (error) {
            await hooks.afterToolCall?.({ ...hookContext, output, error } as never);
            throw error;
          }
          await hooks.afterToolCall?.({ ...hookContext, output } as never);
          return output;
        },
      };
    }
    out[exposed] = wrapped;
  }
  return out;
}

function baseTools(vws: VwsWorkspace) {
  const has = (name: string) => vws.filesystem.listCheckpoints().some((c) => c.name === name);
  const checkpointName = z.string().min(1);
  const checkpointSave = createTool({
    id: 'vws_checkpoint_save',
    description: `Save the whole workspace under a name, instantly (copy-on-write: costs nothing until files change). Restore it later with vws_checkpoint_restore; see what changed since with vws_diff. Saving under a name that exists replaces that checkpoint (the result says replaced: true).

Usage:
- Before a risky change: { name: "before-refactor" }
- When tests pass: { name: "green-tests" }`,
    inputSchema: z.object({ name: checkpointName.describe('Checkpoint name (e.g., "green-tests", "before-refactor")') }),
    execute: async ({ name }) => {
      const replaced = has(name);
      const info = vws.filesystem.checkpoint(name);
      return { ...info, createdAt: info.createdAt.toISOString(), replaced };
    },
  });
  const checkpointRestore = createTool({
    id: 'vws_checkpoint_restore',
    description: `Make the workspace exactly equal to a saved checkpoint again: files written since are discarded, deleted ones come back. Commands see the restored files at once.

Usage:
- Undo everything since a checkpoint: { name: "green-tests" }`,
    inputSchema: z.object({ name: checkpointName.describe('Name of a saved checkpoint (see vws_checkpoint_list), e.g. "green-tests"') }),
    execute: async ({ name }) => {
      vws.filesystem.restore(name);
      return { restored: name };
    },
  });
  const checkpointList = createTool({
    id: 'vws_checkpoint_list',
    description: 'List saved checkpoints with their creation time, file count and size in bytes. Takes no parameters: {}',
    inputSchema: z.object({}),
    execute: async () => ({ checkpoints: vws.filesystem.listCheckpoints().map((c) => ({ ...c, createdAt: c.createdAt.toISOString() })) }),
  });
  const diff = createTool({
    id: 'vws_diff',
    description: `Show what changed since a checkpoint: added, modified, deleted and renamed files (paths relative to the workspace root), with a unified diff of text files (binary files are named only).

Usage:
- Everything since a checkpoint: { since: "green-tests" }
- File names only: { since: "green-tests", patch: false }
- Leave out build output: { since: "green-tests", exclude: ["dist", "node_modules"] }`,
    inputSchema: z.object({
      since: checkpointName.describe('Checkpoint to compare the current workspace with (e.g., "green-tests")'),
      patch: z.boolean().default(true).describe('Include a unified diff of text files (default: true). false lists file names only.'),
      exclude: z.array(z.string()).optional().describe(`Path prefixes to leave out, relative to the workspace root (default: ${DEFAULT_DIFF_EXCLUDE.map(rel).join(', ')}). Example: ["dist", "node_modules"]`),
    }),
    execute: async ({ since, patch, exclude }) => {
      const d = await diffSinceFetched(vws, since, patch ?? true, (exclude ?? DEFAULT_DIFF_EXCLUDE).map((e) => `/${rel(e)}`));
      return { ...d, added: d.added.map(rel), modified: d.modified.map(rel), deleted: d.deleted.map(rel), renamed: d.renamed.map((r) => ({ from: rel(r.from), to: rel(r.to) })) };
    },
  });
  const fork = createTool({
    id: 'vws_fork',
    description: `Branch before trying an alternative: the current state of the workspace is kept as a checkpoint named keepAs, and you go on working in the same workspace. To abandon the alternative, restore keepAs with vws_checkpoint_restore; to compare, use vws_diff with since: keepAs. Keeping under a name that exists replaces that checkpoint (the result says replaced: true).

Usage:
- { keepAs: "main-line" }`,
    inputSchema: z.object({ keepAs: checkpointName.describe('Name to keep the current state under (e.g., "main-line")') }),
    execute: async ({ keepAs }) => {
      const replaced = has(keepAs);
      vws.filesystem.checkpoint(keepAs);
      return { keptAs: keepAs, replaced, restoreWith: 'vws_checkpoint_restore' };
    },
  });
  const executeCode = createTool({
    id: 'vws_execute_code',
    description: `Run a code snippet with node, python3 or bash in the workspace's working directory and return its output (the code is passed as an argument; no file is left behind). Output is limited to the last 200 lines by default, as for execute_command.

Usage:
- { code: "console.log(require('./package.json').version)", runtime: "node" }
- { code: "import sys; print(sys.version)", runtime: "python" }
- { code: "ls | wc -l", runtime: "bash", timeout: 10 }`,
    inputSchema: z.object({
      code: z.string().describe('The source code to run (e.g., "print(6 * 7)")'),
      runtime: z.enum(['node', 'python', 'bash']).describe('Interpreter: node, python (python3) or bash'),
      timeout: TIMEOUT.describe('Maximum execution time in seconds. Example: 60 for 1 minute. Defaults to the workspace timeout.'),
      tail: TAIL,
    }),
    execute: async ({ code, runtime, timeout, tail }) => {
      const r = await vws.sandbox.executeCode(code, { runtime, timeout: timeout !== undefined ? timeout * 1000 : vws.defaultTimeoutMs });
      const changes = { created: r.changes.created.map(rel), modified: r.changes.modified.map(rel), deleted: r.changes.deleted.map(rel) };
      return { exitCode: r.exitCode, timedOut: r.timedOut ?? false, stdout: tailLines(r.stdout, tail ?? 200), stderr: tailLines(r.stderr, tail ?? 200), changes };
    },
  });
  const installPackage = createTool({
    id: 'vws_install_package',
    description: `Install a package into the workspace: npm into node_modules, pip into .pylib (put it on PYTHONPATH). Output is limited to the last 200 lines.

Usage:
- { name: "lodash", manager: "npm" }
- { name: "requests==2.32.3", manager: "pip", timeout: 300 }`,
    inputSchema: z.object({
      name: z.string().min(1).describe('Package name, optionally with a version (e.g., "lodash", "lodash@4", "requests==2.32.3")'),
      manager: z.enum(['npm', 'pip']).describe('Package manager: npm or pip'),
      timeout: TIMEOUT.describe('Maximum time in seconds (default: 300)'),
    }),
    execute: async ({ name, manager, timeout }) => {
      const r = await vws.sandbox.installPackage(name, { manager, timeout: (timeout ?? 300) * 1000 });
      return { exitCode: r.exitCode, stdout: tailLines(r.stdout), stderr: tailLines(r.stderr) };
    },
  });
  return {
    vws_checkpoint_save: checkpointSave,
    vws_checkpoint_restore: checkpointRestore,
    vws_checkpoint_list: checkpointList,
    vws_diff: diff,
    vws_fork: fork,
    vws_execute_code: executeCode,
    vws_install_package: installPackage,
  };
}

export type VwsTools = ReturnType<typeof baseTools>;

/**
 * Our tools, configured by the same toolsConfig as the Workspace's own (keys are our tool ids:
 * `{ vws_fork: { enabled: false }, vws_diff: { name: 'changes' }, requireApproval: true, hooks }`).
 */
export async function createVwsTools(vws: VwsWorkspace, toolsConfig?: WorkspaceToolsConfig): Promise<VwsTools> {
  return (await applyToolsConfig(baseTools(vws), toolsConfig, vws.workspace)) as VwsTools;
}
