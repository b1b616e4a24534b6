// What a command prints when it ends, as text and an exit code, so that the CLI in this process and
// the exec daemon (which prints through its client) say exactly the same things.

import pc from 'picocolors';
import { FsError } from '@vws/inode-fs';
import type { Changes } from '@vws/sandbox-pty/runner';
import { VaultError } from './vault-store.js';

export interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  changes: Changes;
}

/**
 * After `vws exec`: with --json the whole result as one document (the command's output was not
 * streamed); otherwise a one-line summary of the changed files on stderr (the output was).
 */
export function execOutcome(r: ExecResult, json: boolean, colors: Pick<typeof pc, 'dim'> = pc): Outcome {
  if (json) return { stdout: `${JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, changes: r.changes })}\n`, stderr: '', exitCode: r.exitCode };
  const lines = [...r.changes.created.map((p) => `+ ${p}`), ...r.changes.modified.map((p) => `~ ${p}`), ...r.changes.deleted.map((p) => `- ${p}`)];
  return { stdout: '', stderr: lines.length ? colors.dim(`vws: ${lines.length} changed: ${lines.join(', ')}\n`) : '', exitCode: r.exitCode };
}

/**
 * Exit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 damaged, 5 locked, 6 filesystem error,
 * 7 FUSE unavailable on this host (by name: @vws/fuse loads only in the commands that mount).
 */
export function errorOutcome(e: unknown, json: boolean): Outcome {
  const exitCode = e instanceof VaultError ? e.exitCode : e instanceof FsError ? 6 : (e as Error)?.name === 'FuseUnavailableError' ? 7 : String((e as { code?: unknown })?.code).startsWith('commander.') ? 2 : 1;
  const message = e instanceof Error ? e.message : String(e);
  if (json) return { stdout: `${JSON.stringify({ error: { message, code: e instanceof FsError ? e.code : undefined, exitCode } })}\n`, stderr: '', exitCode };
  return { stdout: '', stderr: `vws: ${message}\n`, exitCode };
}
