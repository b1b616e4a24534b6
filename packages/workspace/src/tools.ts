// Workspace tools Mastra does not have, as Mastra tools with zod schemas: checkpoints, diffs with
// unified text patches, forks (branches), and running code or installing packages in the sandbox.

import { createTool } from '@mastra/core/tools';
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
    } catch {
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

export function createVwsTools(vws: VwsWorkspace) {
  const checkpointSave = createTool({
    id: 'vws_checkpoint_save',
    description: 'Save the whole workspace (files and their history) under a name, instantly. Restore it later with vws_checkpoint_restore.',
    inputSchema: z.object({ name: z.string().min(1).describe('checkpoint name, e.g. "green-tests"') }),
    execute: async ({ name }) => vws.filesystem.checkpoint(name),
  });
  const checkpointRestore = createTool({
    id: 'vws_checkpoint_restore',
    description: 'Make the workspace exactly equal to a saved checkpoint again (files written since are discarded).',
    inputSchema: z.object({ name: z.string().min(1) }),
    execute: async ({ name }) => {
      vws.filesystem.restore(name);
      return { restored: name };
    },
  });
  const checkpointList = createTool({
    id: 'vws_checkpoint_list',
    description: 'List saved checkpoints with their time, file count and size.',
    inputSchema: z.object({}),
    execute: async () => ({ checkpoints: vws.filesystem.listCheckpoints().map((c) => ({ ...c, createdAt: c.createdAt.toISOString() })) }),
  });
  const diff = createTool({
    id: 'vws_diff',
    description: 'Show what changed since a checkpoint: added, modified, deleted and renamed files, with a unified diff of text files.',
    inputSchema: z.object({
      since: z.string().min(1).describe('checkpoint name'),
      patch: z.boolean().default(true),
      exclude: z.array(z.string()).optional().describe(`path prefixes to leave out (default ${DEFAULT_DIFF_EXCLUDE.join(', ')})`),
    }),
    execute: async ({ since, patch, exclude }) => diffSince(vws, since, patch ?? true, exclude ?? DEFAULT_DIFF_EXCLUDE),
  });
  const fork = createTool({
    id: 'vws_fork',
    description: 'Fork the workspace to try an alternative: the current line is saved as a checkpoint named `keepAs`, and work continues on a copy. Restore `keepAs` to go back.',
    inputSchema: z.object({ keepAs: z.string().min(1).describe('name to keep the current line under') }),
    execute: async ({ keepAs }) => {
      vws.filesystem.checkpoint(keepAs);
      return { forked: true, keptAs: keepAs };
    },
  });
  const executeCode = createTool({
    id: 'vws_execute_code',
    description: 'Run a code snippet with node, python or bash inside the workspace and return its output.',
    inputSchema: z.object({ code: z.string(), runtime: z.enum(['node', 'python', 'bash']), timeoutMs: z.number().int().positive().optional() }),
    execute: async ({ code, runtime, timeoutMs }) => {
      const r = await vws.sandbox.executeCode(code, { runtime, timeout: timeoutMs ?? vws.defaultTimeoutMs });
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, changes: r.changes };
    },
  });
  const installPackage = createTool({
    id: 'vws_install_package',
    description: 'Install a package into the workspace with npm or pip.',
    inputSchema: z.object({ name: z.string().min(1), manager: z.enum(['npm', 'pip']) }),
    execute: async ({ name, manager }) => {
      const r = await vws.sandbox.installPackage(name, { manager, timeout: 300_000 });
      return { exitCode: r.exitCode, stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) };
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
