// One `vws exec` on a loaded tree, the same in-process and in the exec daemon: the working directory
// checked in the tree, the environment built from the client's settings (exec-env.ts), a command that
// names no program refused as a shell would (exit 127), then the run.

import type { Readable } from 'node:stream';
import { InodeFs } from '@vws/inode-fs';
import { buildEnv, type Runner, type RunResult } from '@vws/sandbox-pty/runner';
import { cacheDir, commandEnv, commandMissing, vaultCwd, type ExecSettings } from './exec-env.js';
import { VaultError, vwsHome, type Vault } from './vault-store.js';

export interface ExecIo {
  stdin?: Readable;
  signal?: AbortSignal;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
}

export async function runInVault(runner: Runner, fs: InodeFs, vault: Vault, argv: string[], settings: ExecSettings, io: ExecIo = {}): Promise<RunResult> {
  const cwd = vaultCwd(settings.cwd);
  let kind: string | undefined;
  try {
    kind = fs.stat(cwd).kind;
  } catch {
    kind = undefined;
  }
  if (kind !== 'directory') throw new VaultError(`--cwd ${settings.cwd}: no such directory in vault '${vault.name}'`, 2);
  const env = commandEnv(settings, cacheDir(vwsHome(), vault.name));
  const path = env.PATH ?? buildEnv('/', {}).PATH!;
  if (commandMissing(argv[0]!, path)) throw new VaultError(`${argv[0]}: command not found`, 127);
  // Without FUSE (sync mode) the command sees a copy of the tree in a directory: every byte is needed.
  if (Object.getPrototypeOf(fs) === InodeFs.prototype) await fs.prefetch();
  return runner.run(fs, argv, { ...io, cwd, env: { env } });
}
