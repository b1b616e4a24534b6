// What a command prints when it ends, as text and an exit code, so that the CLI in this process and
// the exec daemon (which prints through its client) say exactly the same things.

import pc from 'picocolors';
import { FsError } from '@vws/inode-fs';
import type { Changes } from '@vws/sandbox-pty/runner';
import { ChunkHashMismatchError, ManifestHashMismatchError, MissingChunkError, NotFoundError, StoreDamagedError, StoreError, StoreUnavailableError } from '@vws/store';
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
  mountLost?: { discarded: string[] };
}

/**
 * After `vws exec`: with --json the whole result as one document (the command's output was not
 * streamed); otherwise one summary line of the changes on stderr (the output was), every changed
 * path under `verbose`. A mount lost mid-command fails the exec, with what happened.
 */
export function execOutcome(r: ExecResult, json: boolean, colors: Pick<typeof pc, 'dim' | 'red'> = pc, verbose = false): Outcome {
  const exitCode = r.mountLost ? r.exitCode || 1 : r.exitCode;
  const lost = r.mountLost ? mountLostMessage(r.mountLost.discarded) : undefined;
  if (json) return { stdout: `${JSON.stringify({ exitCode, stdout: r.stdout, stderr: r.stderr, changes: r.changes, ...(lost ? { error: { message: lost, discarded: r.mountLost!.discarded } } : {}) })}\n`, stderr: '', exitCode };
  const { created, modified, deleted } = r.changes;
  let text = '';
  if (created.length + modified.length + deleted.length) {
    text = colors.dim(`vws: ${modified.length} changed, ${created.length} added, ${deleted.length} deleted${verbose ? '' : ' (--verbose lists them)'}\n`);
    if (verbose) text += colors.dim([...created.map((p) => `+ ${p}`), ...modified.map((p) => `~ ${p}`), ...deleted.map((p) => `- ${p}`)].join('\n') + '\n');
  }
  if (lost) text += colors.red(`vws: ${lost}\n`);
  return { stdout: '', stderr: text, exitCode };
}

function mountLostMessage(discarded: string[]): string {
  const shown = discarded.slice(0, 5).join(', ') + (discarded.length > 5 ? `, and ${discarded.length - 5} more` : '');
  return `the vault's mount was detached while the command ran (unmounted from outside, or its FUSE connection closed): what the command wrote before is saved${discarded.length ? `; ${discarded.length} path(s) written after it landed outside the vault and were removed: ${shown}` : ''}`;
}

/** Why a vault has a byte limit at all, and where to see it. */
const QUOTA_HINT = " (the vault's tree lives in memory: `vws quota` shows its limits; one without its own byte limit gets min(8 GiB, half this host's memory))";

/**
 * Exit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 damaged, 5 locked, 6 filesystem error,
 * 7 FUSE unavailable on this host (by name: @vws/fuse loads only in the commands that mount).
 */
export function errorOutcome(e: unknown, json: boolean): Outcome {
  const exitCode = e instanceof VaultError ? e.exitCode : e instanceof FsError ? 6 : e instanceof StoreError ? storeExit(e) : (e as Error)?.name === 'FuseUnavailableError' ? 7 : String((e as { code?: unknown })?.code).startsWith('commander.') ? 2 : 1;
  const message = (e instanceof Error ? e.message : String(e)) + (e instanceof FsError && e.code === 'ENOSPC' && /quota/.test(e.message) ? QUOTA_HINT : '');
  if (json) return { stdout: `${JSON.stringify({ error: { message, code: e instanceof FsError ? e.code : undefined, exitCode } })}\n`, stderr: '', exitCode };
  return { stdout: '', stderr: `vws: ${message}\n`, exitCode };
}

/**
 * A store error that reached the top: damage (a damaged or missing record or chunk; the CLI asks the
 * store only for what meta.json and refs.json name, so "not found" there is damage too) is 4; a store
 * lock held too long is 5; anything else is unexpected.
 */
function storeExit(e: StoreError): number {
  if (e instanceof StoreDamagedError || e instanceof ChunkHashMismatchError || e instanceof ManifestHashMismatchError || e instanceof MissingChunkError || e instanceof NotFoundError) return 4;
  return e instanceof StoreUnavailableError ? 5 : 1;
}
