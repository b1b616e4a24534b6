// vws: the command line (main.ts loads it for everything the exec daemon does not serve). Every
// command takes --json (one JSON document on stdout, stable fields); errors go to stderr (or as
// {"error": ...} with --json) with a documented exit code.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import pc from 'picocolors';
import type { InodeFs } from '@vws/inode-fs';
import { currentVaultName, useVault, Vault, VaultError, withFetching } from './vault-store.js';
import { clientSettings, parseEnvAssignments } from './exec-env.js';
import { patchAction, registerExtra } from './commands/extra.js';
import { daemonSummary, registerDaemon } from './commands/daemon.js';
import { registerStore } from './commands/store.js';
import { errorOutcome, execOutcome, type ExecResult } from './outcome.js';
import { outputBytes } from './argv-bytes.js';
// Mastra, the PTY sandbox and FUSE load only in the commands that use them: start-up is most of a command's time.

/** Exit codes (outcome.ts): 0 ok, 1 unexpected, 2 usage, 3 not found, 4 damaged, 5 locked, 6 filesystem error, 7 no FUSE. */
const program = new Command();
program.name('vws').description('Vaults of in-memory workspaces: files, exec, checkpoints, forks, diffs.').option('--json', 'print one JSON document').option('--vault <name>', 'the vault to act on (default: $VWS_VAULT, then `vws vault use`)');
program.showHelpAfterError();
program.enablePositionalOptions();
// Set before the subcommands are made, so they inherit it: usage errors exit 2, not 1.
program.exitOverride();

const json = () => Boolean(program.opts().json);
function print(doc: unknown, human: () => string): void {
  if (json()) process.stdout.write(`${JSON.stringify(doc)}\n`);
  else {
    const text = human();
    if (text) process.stdout.write(outputBytes(text.endsWith('\n') ? text : `${text}\n`));
  }
}
const vaultName = () => currentVaultName(program.opts().vault);

/**
 * Loads the vault, runs fn on its tree under the lock, and saves it when write is true, or with
 * 'if-changed' only when the tree was mutated at all (the engine's version moved).
 */
async function withTree<T>(write: boolean | 'if-changed', fn: (fs: InodeFs, vault: Vault) => Promise<T> | T, restore?: Parameters<Vault['load']>[0]): Promise<T> {
  const vault = Vault.open(vaultName());
  return vault.locked(() => withTreeUnlocked(vault, fn, write, restore));
}

/** withTree's body, for a caller that holds the vault's lock already. */
async function withTreeUnlocked<T>(vault: Vault, fn: (fs: InodeFs, vault: Vault) => Promise<T> | T, write: boolean | 'if-changed' = false, restore?: Parameters<Vault['load']>[0]): Promise<T> {
  const fs = vault.load(restore);
  const loaded = fs.version;
  const result = await withFetching(vault, fs, () => fn(fs, vault));
  if (write === true || (write === 'if-changed' && fs.version !== loaded)) vault.save(fs);
  return result;
}

/**
 * Runs fn on the tree unless the two sides of a diff are the same saved state (equal checkpoint ids):
 * then an empty diff is printed without loading anything.
 */
function sameStateOr(fromArg: string | undefined, to: string | undefined, fn: (fs: InodeFs, vault: Vault, from: string) => void): Promise<void> {
  const v = Vault.open(vaultName());
  return v.locked(async () => {
    const from = fromArg ?? v.newestCheckpoint();
    const a = v.checkpointId(from);
    const b = to ? v.checkpointId(to) : v.headId();
    if (a !== null && a === b) return void print({ from, to: to ?? 'current', added: [], modified: [], deleted: [], renamed: [] }, () => '');
    await withTreeUnlocked(v, (fs) => fn(fs, v, from));
  });
}

const vault = program.command('vault').description('create, list, fork, delete and select vaults');
vault
  .command('create <name>')
  .description('create an empty vault')
  .action((name: string) => {
    Vault.create(name);
    print({ created: name }, () => `created vault ${pc.bold(name)}`);
  });
vault
  .command('list')
  .description('list vaults')
  .action(() => {
    const vaults = Vault.list().map((n) => {
      const m = Vault.open(n).meta();
      return { name: n, updatedAt: m.updatedAt, checkpoints: Object.keys(m.checkpoints).length };
    });
    print({ vaults }, () => vaults.map((v) => `${v.name}\t${v.updatedAt}\t${v.checkpoints} checkpoints`).join('\n'));
  });
vault
  .command('fork <from> <to>')
  .description('a new vault with the same tree')
  .action(async (from: string, to: string) => {
    // A new workspace on the same saved state: every chunk shared, nothing copied.
    const src = Vault.open(from);
    await src.locked(() => src.fork(to));
    print({ forked: from, to }, () => `forked ${from} -> ${pc.bold(to)}`);
  });
vault
  .command('delete <name>')
  .description('delete a vault and its checkpoints')
  .action(async (name: string) => {
    const v = Vault.open(name);
    await v.locked(() => v.remove());
    print({ deleted: name }, () => `deleted vault ${name}`);
  });
vault
  .command('use <name>')
  .description('select the vault later commands act on')
  .action((name: string) => {
    useVault(name);
    print({ using: name }, () => `using vault ${pc.bold(name)}`);
  });

program
  .command('ls [path]')
  .description('list a directory')
  .action((path = '/') =>
    withTree(false, (fs) => {
      const entries = fs.readdir(path, { withFileTypes: true }).map((e) => ({ name: e.name, kind: e.kind, size: fs.lstat(`${path === '/' ? '' : path}/${e.name}`).size }));
      print({ path, entries }, () => entries.map((e) => `${e.kind === 'directory' ? pc.blue(`${e.name}/`) : e.name}\t${e.size}`).join('\n'));
    }),
  );
program
  .command('cat <path>')
  .description('print a file')
  .action((path: string) =>
    withTree(false, (fs) => {
      const bytes = fs.readFile(path);
      if (json()) print({ path, content: Buffer.from(bytes).toString('utf8') }, () => '');
      else process.stdout.write(bytes);
    }),
  );
program
  .command('write <path> [content]')
  .description('write a file (content from the argument, or standard input)')
  .action((path: string, content?: string) =>
    withTree(true, (fs) => {
      const data = content ?? readFileSync(0);
      fs.writeFile(path, data);
      print({ written: path, bytes: fs.stat(path).size }, () => `wrote ${path}`);
    }),
  );
program
  .command('mkdir <path>')
  .option('-p, --parents', 'make parent directories as needed')
  .description('make a directory')
  .action((path: string, o: { parents?: boolean }) =>
    withTree(true, (fs) => {
      fs.mkdir(path, { recursive: Boolean(o.parents) });
      print({ created: path }, () => '');
    }),
  );
program
  .command('rm <path>')
  .option('-r, --recursive', 'remove directories and their contents')
  .option('-f, --force', 'ignore a missing path')
  .description('remove a file or directory')
  .action((path: string, o: { recursive?: boolean; force?: boolean }) =>
    withTree(true, (fs) => {
      fs.rm(path, { recursive: Boolean(o.recursive), force: Boolean(o.force) });
      print({ removed: path }, () => '');
    }),
  );
program
  .command('stat <path>')
  .description('show a path')
  .action((path: string) =>
    withTree(false, (fs) => {
      const st = fs.lstat(path);
      const doc = { path, kind: st.kind, size: st.size, mode: `0${(st.mode & 0o7777).toString(8)}`, ino: st.ino, nlink: st.nlink, mtime: new Date(st.mtimeMs).toISOString() };
      print(doc, () => Object.entries(doc).map(([k, v]) => `${k}: ${v}`).join('\n'));
    }),
  );

const checkpoint = program.command('checkpoint').description('save, restore, list and delete checkpoints');
// A name for the saved state: nothing loaded, nothing copied.
checkpoint.command('save <name>').action((name: string) => {
  const v = Vault.open(vaultName());
  return v.locked(() => {
    v.saveHeadCheckpoint(name);
    print({ saved: name }, () => `saved checkpoint ${pc.bold(name)}`);
  });
});
checkpoint.command('restore <name>').action((name: string) =>
  withTree(true, (fs, v) => {
    fs.reset(v.loadCheckpoint(name));
    print({ restored: name }, () => `restored checkpoint ${pc.bold(name)}`);
  }),
);
checkpoint.command('list').action(() =>
  withTree(false, (_fs, v) => {
    const checkpoints = Object.entries(v.meta().checkpoints).map(([name, c]) => ({ name, ...c }));
    print({ checkpoints }, () => checkpoints.map((c) => `${c.name}\t${c.createdAt}\t${c.bytes} bytes`).join('\n'));
  }),
);
checkpoint.command('delete <name>').action((name: string) =>
  withTree(false, (_fs, v) => {
    v.deleteCheckpoint(name);
    print({ deleted: name }, () => `deleted checkpoint ${name}`);
  }),
);

program
  .command('diff [from] [to]')
  .description('changed files between two checkpoints, or from a checkpoint (default: the newest) to now')
  .option('--patch', 'a unified diff of the contents (as `vws patch`)')
  .action((fromArg: string | undefined, to: string | undefined, o: { patch?: boolean }) =>
    o.patch ? patchAction({ json, print, withTree, vaultName })(fromArg, to) : sameStateOr(fromArg, to, (fs, v, from) => {
      const d = v.loadCheckpoint(from).diff(to ? v.loadCheckpoint(to) : fs);
      const doc = { from, to: to ?? 'current', added: d.added.map((c) => c.path), modified: d.modified.map((c) => c.path), deleted: d.deleted.map((c) => c.path), renamed: d.renamed.map((c) => ({ from: c.oldPath, to: c.path })) };
      print(doc, () => [...doc.added.map((p) => pc.green(`A ${p}`)), ...doc.modified.map((p) => pc.yellow(`M ${p}`)), ...doc.deleted.map((p) => pc.red(`D ${p}`)), ...doc.renamed.map((r) => `R ${r.from} -> ${r.to}`)].join('\n'));
    }),
  );

program
  .command('exec')
  .description('run a command inside the vault (FUSE-mounted, under a PTY), persist the result, list changed files')
  .argument('<command...>', 'the command and its arguments (after --)')
  .option('--no-daemon', 'run in this process, not through the exec daemon (as VWS_DAEMON=0)')
  .option('--cwd <dir>', 'the working directory, a directory in the vault (default: its root)')
  .option('--env <name=value>', 'set a variable for the command (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--keep-caches', 'leave tool caches and logs (npm, pip, XDG) under HOME, in the vault (default: $VWS_HOME/cache/<vault>)')
  .option('-v, --verbose', 'list every changed path, not only the summary line')
  .passThroughOptions()
  .action(async (argv: string[], o: { cwd?: string; env: string[]; keepCaches?: boolean; verbose?: boolean }) => {
    let extraEnv: Record<string, string>;
    try {
      extraEnv = parseEnvAssignments(o.env);
    } catch (e) {
      throw new VaultError((e as Error).message, 2);
    }
    const settings = clientSettings({ cwd: o.cwd, extraEnv, keepCaches: Boolean(o.keepCaches) });
    // Through the daemon, main.ts has already served `vws exec -- CMD` before this module loaded;
    // what arrives here runs in this process.
    const output = { onStdout: json() ? undefined : (d: string) => process.stdout.write(d), onStderr: json() ? undefined : (d: string) => process.stderr.write(d) };
    const report = (r: ExecResult) => {
      const out = execOutcome(r, json(), pc, Boolean(o.verbose));
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      return out.exitCode;
    };
    // The Mastra-free runner (loading @mastra/core would be most of exec's time): a FUSE mount, or
    // without FUSE a shadow directory in /dev/shm (PtySandbox's sync mode).
    const { Runner } = await import('@vws/sandbox-pty/runner');
    const runner = new Runner({ warm: false }); // one command, then the process ends
    // The spawner starts while the vault loads (it must exist before the mount).
    const started = runner.start();
    started.catch(() => {}); // awaited by run()
    const stdin = process.stdin.isTTY ? undefined : process.stdin; // piped input goes to the command, then its end
    try {
      // The tree is decoded where it will be served (the FUSE serving thread; here without FUSE).
      const { restoreForMount } = await import('@vws/fuse');
      const { runInVault } = await import('./exec-run.js');
      process.exitCode = await withTree('if-changed', async (fs, v) => report(await runInVault(runner, fs, v, argv, settings, { ...output, stdin })), restoreForMount);
    } finally {
      stdin?.destroy(); // what the command did not read is not wanted
      runner.stop();
    }
  });

program
  .command('stats')
  .description('files, bytes and checkpoints of the vault')
  .action(() =>
    withTree(false, (fs, v) => {
      const u = fs.usage();
      const doc = { vault: v.name, inodes: u.inodes, bytes: u.bytes, checkpoints: Object.keys(v.meta().checkpoints).length, quota: fs.quota };
      print(doc, () => `${doc.vault}: ${doc.inodes} inodes, ${doc.bytes} bytes, ${doc.checkpoints} checkpoints`);
    }),
  );

// tree, cp, mv, grep, find, import, export, patch, log, quota, gc, shell, mount, unmount.
registerExtra(program, { json, print, withTree, vaultName });
// daemon start | status | stop.
registerDaemon(program, { json, print });
registerStore(program, { print, vaultName });

program
  .command('doctor')
  .description('check FUSE, bubblewrap, Node, stale mounts, exec daemons and the vault\'s usage counters')
  .option('--repair', 'set a vault usage that differs from what its tree holds to the recount (saved)')
  .action(async (o: { repair?: boolean }) => {
    const { fuseMounts, fuseProblem } = await import('@vws/fuse');
    const problem = fuseProblem();
    const bwrap = spawnSync('bwrap', ['--version'], { encoding: 'utf8' });
    const [major, minor] = process.versions.node.split('.').map(Number);
    const checks = [
      { check: 'fuse', ok: !problem, detail: problem ? `${problem.missing}: ${problem.install}` : 'available' },
      { check: 'bubblewrap', ok: bwrap.status === 0, detail: bwrap.status === 0 ? bwrap.stdout.trim() : 'missing: apt-get install bubblewrap' },
      { check: 'node', ok: major > 22 || (major === 22 && minor >= 13), detail: process.versions.node },
      { check: 'mounts', ok: true, detail: `${fuseMounts().length} vws FUSE mounts (clear stale ones with fusermount -uz PATH)` },
      { check: 'daemon', ...(await daemonSummary()) },
      { check: 'wakeups', ok: true, detail: wakeupAdvice() },
      ...(await usageCheck(Boolean(o.repair))),
    ];
    print({ ok: checks.every((c) => c.ok), checks }, () => checks.map((c) => `${c.ok ? pc.green('ok ') : pc.red('!! ')} ${c.check}: ${c.detail}`).join('\n'));
    if (!checks.every((c) => c.ok)) process.exitCode = 1;
  });

/**
 * The selected vault's usage counters (what quotas and `vws stats` use) against a recount of its tree;
 * none when no vault is selected. With repair, a mismatch is set right and saved.
 */
async function usageCheck(repair: boolean): Promise<Array<{ check: string; ok: boolean; detail: string }>> {
  let name: string;
  try {
    name = vaultName();
  } catch {
    return [];
  }
  try {
    return [
      await withTree(false, (fs, v) => {
        const recorded = fs.usage();
        const counted = fs.countUsage();
        const same = recorded.bytes === counted.bytes && recorded.inodes === counted.inodes;
        const what = `recorded ${recorded.inodes} inodes, ${recorded.bytes} bytes; the tree holds ${counted.inodes} inodes, ${counted.bytes} bytes`;
        if (same) return { check: 'usage', ok: true, detail: `vault '${name}': ${counted.inodes} inodes, ${counted.bytes} bytes, as the tree holds` };
        if (!repair) return { check: 'usage', ok: false, detail: `vault '${name}': ${what} (vws doctor --repair or vws gc sets it right)` };
        fs.repairUsage();
        v.save(fs);
        return { check: 'usage', ok: true, detail: `vault '${name}': repaired (${what})` };
      }),
    ];
  } catch (e) {
    return [{ check: 'usage', ok: false, detail: `vault '${name}': ${(e as Error).message}` }];
  }
}

/**
 * Advice only: in a VM guest whose idle vCPUs halt at once (cpuidle-haltpoll with polling off), every
 * wake-up goes through the hypervisor, and each FUSE round trip pays for it (measured: `tar x` of
 * 10,000 files 16x tmpfs with polling off, 7.8x with 200 µs; a round trip 26 -> 10 µs).
 */
function wakeupAdvice(): string {
  const knob = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
  let ns: string;
  try {
    ns = readFileSync(knob, 'utf8').trim();
  } catch {
    return 'not a haltpoll VM guest: nothing to tune';
  }
  if (ns !== '0') return `guest halt polling on (${ns} ns)`;
  return `guest halt polling is off: FUSE round trips cost ~2.5x more; as root, echo 200000 > ${knob}`;
}

function fail(e: unknown): never {
  const out = errorOutcome(e, json());
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  process.exit(out.exitCode);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const c = (e as { code?: string; exitCode?: number }).code;
  if (c === 'commander.helpDisplayed' || c === 'commander.version' || c === 'commander.help') process.exit(0);
  if (typeof c === 'string' && c.startsWith('commander.')) process.exit(2); // usage errors (commander printed what was wrong)
  fail(e);
}
