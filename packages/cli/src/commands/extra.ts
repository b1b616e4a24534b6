// The commands beyond the core set: tree, cp, mv, grep, find, import, export, log, quota, gc, patch
// (unified diff), shell, mount and unmount. Registered on the program by main.ts through a small
// context, so each command group stays its own module.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import type { InodeFs } from '@vws/inode-fs';
import { atomicWrite, gcVaults, prefetchQuietly, quotaWarning, releaseBasesWith, Vault, VaultError, vaultStore, vwsHome } from '../vault-store.js';
import { progress } from '../progress.js';
import { copyWithin, countHost, exportHost, importHost, joinVault, walk } from '../tree-io.js';
import { processAlive } from '../process-alive.js';
import { cacheDir, clientSettings, commandEnv } from '../exec-env.js';

export interface Ctx {
  json(): boolean;
  print(doc: unknown, human: () => string): void;
  withTree<T>(write: boolean, fn: (fs: InodeFs, vault: Vault) => Promise<T> | T): Promise<T>;
  vaultName(): string;
}

/** Exit code 2 (usage) for a bad host path or argument. */
const usage = (msg: string) => new VaultError(msg, 2);

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\[!/g, '[^');
  return new RegExp(`^${body}$`);
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
/** `--bytes` values: 1048576, 512K, 1.5G (powers of 1024; a trailing B or iB is allowed). */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw usage(`'${text}' is not a size (a positive number of bytes, or with K, M, G, T)`);
  return n;
}
function parseCount(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw usage(`'${text}' is not a positive whole number`);
  return n;
}

/** A small sample decides text or binary, as grep and diff do. */
const isBinary = (b: Uint8Array) => b.subarray(0, 8000).includes(0);

/** Where `vws mount` records a live mount (pid, path) so `vws unmount` can find and stop it. */
const mountsDir = () => join(vwsHome(), 'mounts');
interface MountRecord {
  vault: string;
  path: string;
  pid: number;
}
function mountRecords(): Array<MountRecord & { file: string }> {
  if (!existsSync(mountsDir())) return [];
  return readdirSync(mountsDir())
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [{ ...(JSON.parse(readFileSync(join(mountsDir(), f), 'utf8')) as MountRecord), file: join(mountsDir(), f) }];
      } catch {
        return [];
      }
    });
}

/**
 * The environment of `vws shell`: the basics an interactive shell needs from the user's, then exec's
 * rule (exec-env.ts): HOME is the vault's root, CA/proxy/npm/pip settings pass through, tool caches
 * go to $VWS_HOME/cache/<vault>.
 */
function curatedEnv(mountPath: string, vault: string): NodeJS.ProcessEnv {
  const keep = ['PATH', 'TERM', 'LANG', 'LC_ALL', 'USER', 'LOGNAME', 'SHELL', 'COLUMNS', 'LINES', 'TZ'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  Object.assign(env, commandEnv(clientSettings(), cacheDir(vwsHome(), vault)));
  env.HOME = mountPath;
  env.VWS_MOUNT = mountPath;
  env.PS1 = 'vws:\\w\\$ ';
  return env;
}

export function registerExtra(program: Command, ctx: Ctx): void {
  const { print, withTree, json } = ctx;

  program
    .command('tree [path]')
    .description('every entry under a directory')
    .action((path = '/') =>
      withTree(false, (fs) => {
        const entries = walk(fs, path);
        print({ path, entries }, () => {
          const depth0 = path === '/' ? 0 : path.split('/').length - 1;
          return [path, ...entries.map((e) => `${'  '.repeat(e.path.split('/').length - 2 - depth0)}${e.kind === 'directory' ? pc.blue(`${e.path.split('/').pop()}/`) : e.kind === 'symlink' ? pc.cyan(`${e.path.split('/').pop()} -> ${fs.readlink(e.path)}`) : e.path.split('/').pop()}`)].join('\n');
        });
      }),
    );

  program
    .command('cp <from> <to>')
    .option('-r, --recursive', 'copy directories')
    .description('copy inside the vault')
    .action((from: string, to: string, o: { recursive?: boolean }) =>
      withTree(true, async (fs) => {
        await prefetchQuietly(fs, from); // read after the first change (mkdir): fetched first
        try {
          const entries = copyWithin(fs, from, to, Boolean(o.recursive));
          print({ copied: from, to, entries }, () => '');
        } catch (e) {
          if ((e as { usage?: boolean }).usage) throw usage((e as Error).message);
          throw e;
        }
      }),
    );

  program
    .command('mv <from> <to>')
    .description('move or rename inside the vault')
    .action((from: string, to: string) =>
      withTree(true, (fs) => {
        fs.rename(from, to);
        print({ moved: from, to }, () => '');
      }),
    );

  program
    .command('grep <pattern> [path]')
    .option('-i, --ignore-case', 'case-insensitive')
    .description('lines matching a regular expression in the files under path (exit 0 with matches, 1 without, as grep)')
    .action((pattern: string, path = '/', o: { ignoreCase?: boolean }) =>
      withTree(false, (fs) => {
        let re: RegExp;
        try {
          re = new RegExp(pattern, o.ignoreCase ? 'i' : '');
        } catch (e) {
          throw usage(`bad pattern: ${(e as Error).message}`);
        }
        const files = fs.lstat(path).kind === 'file' ? [path] : walk(fs, path).filter((e) => e.kind === 'file').map((e) => e.path);
        const matches: Array<{ path: string; line: number; text: string }> = [];
        for (const f of files) {
          const bytes = fs.readFile(f);
          if (isBinary(bytes)) continue;
          Buffer.from(bytes)
            .toString('utf8')
            .split('\n')
            .forEach((text, i) => {
              if (re.test(text)) matches.push({ path: f, line: i + 1, text });
            });
        }
        print({ pattern, matches }, () => matches.map((m) => `${pc.magenta(m.path)}:${pc.green(String(m.line))}:${m.text}`).join('\n'));
        if (matches.length === 0) process.exitCode = 1;
      }),
    );

  program
    .command('find [path]')
    .option('--name <glob>', 'base name matches a glob (* ? [..])')
    .option('--type <t>', 'f (file), d (directory) or l (symlink)')
    .description('paths under a directory')
    .action((path = '/', o: { name?: string; type?: string }) =>
      withTree(false, (fs) => {
        const kinds: Record<string, string> = { f: 'file', d: 'directory', l: 'symlink' };
        if (o.type && !kinds[o.type]) throw usage(`--type must be f, d or l (got '${o.type}')`);
        const re = o.name ? globToRegExp(o.name) : undefined;
        const paths = walk(fs, path)
          .filter((e) => (!o.type || e.kind === kinds[o.type]) && (!re || re.test(e.path.split('/').pop()!)))
          .map((e) => e.path);
        print({ path, paths }, () => paths.join('\n'));
      }),
    );

  program
    .command('import <hostdir> [to]')
    .description('copy a host directory into the vault (modes, symlinks, hard links, mtimes)')
    .action((hostdir: string, to = '/') => {
      const src = resolve(hostdir);
      if (!existsSync(src) || !statSync(src).isDirectory()) throw usage(`${hostdir} is not a directory on this host`);
      return withTree(true, (fs) => {
        const started = performance.now();
        const stats = importHost(fs, src, to, progress('import', countHost(src), { json: json() }));
        print({ imported: src, to, ...stats, ms: Math.round(performance.now() - started) }, () => `imported ${stats.files} files, ${stats.directories} directories, ${stats.bytes} bytes into ${to}`);
      });
    });

  program
    .command('export <target> [from]')
    .description('write the vault (or a directory of it) to a new host directory, or to a .tar file')
    .action((target: string, from = '/') => {
      const dest = resolve(target);
      const tar = /\.tar$/.test(dest);
      if (!tar && existsSync(dest) && readdirSync(dest).length > 0) throw usage(`${target} exists and is not empty`);
      if (tar && existsSync(dest)) throw usage(`${target} exists already`);
      return withTree(false, async (fs) => {
        await prefetchQuietly(fs, from); // host files are written as it goes: every byte first
        const total = walk(fs, from).length;
        const dir = tar ? mkdtempSync(join(tmpdir(), 'vws-export-')) : dest;
        try {
          const stats = exportHost(fs, from, dir, progress('export', total, { json: json() }));
          if (tar) {
            const r = spawnSync('tar', ['-cf', dest, '-C', dir, '.'], { encoding: 'utf8' });
            if (r.status !== 0) throw new VaultError(`tar failed: ${r.stderr || r.error?.message}`, 1);
          }
          print({ exported: from, to: dest, format: tar ? 'tar' : 'directory', ...stats }, () => `exported ${stats.files} files, ${stats.directories} directories to ${dest}`);
        } finally {
          if (tar) rmSync(dir, { recursive: true, force: true });
        }
      });
    });

  program
    .command('patch [from] [to]')
    .description('unified diff of file contents between two checkpoints, or a checkpoint and now (same as diff --patch)')
    .action(patchAction(ctx));

  program
    .command('log')
    .description('checkpoints with times and sizes, oldest first, and the current state')
    .action(() =>
      withTree(false, (fs, v) => {
        const checkpoints = Object.entries(v.meta().checkpoints)
          .map(([name, c]) => ({ name, createdAt: c.createdAt, bytes: c.bytes }))
          .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
        const u = fs.usage();
        const current = { updatedAt: v.meta().updatedAt, bytes: v.savedBytes(), files: u.inodes, contentBytes: u.bytes };
        print({ vault: v.name, checkpoints, current }, () =>
          [...checkpoints.map((c) => `${pc.yellow(c.name)}\t${c.createdAt}\t${c.bytes} bytes`), `${pc.bold('current')}\t${current.updatedAt}\t${current.bytes} bytes`].join('\n'),
        );
      }),
    );

  program
    .command('quota')
    .description('usage against the vault quota (bytes and inodes); --bytes/--inodes set it')
    .option('--bytes <size>', 'the byte limit (a number, or with K, M, G, T: powers of 1024)', parseSize)
    .option('--inodes <count>', 'the limit on files, directories and links', parseCount)
    .action((o: { bytes?: number; inodes?: number }) =>
      withTree(false, (fs, v) => {
        const u = fs.usage();
        if (o.bytes !== undefined || o.inodes !== undefined) {
          // Never below what the vault holds: it could then not even be saved as it is.
          if (o.bytes !== undefined && o.bytes < u.bytes) throw usage(`vault '${v.name}' holds ${u.bytes} bytes, more than the limit ${o.bytes}`);
          if (o.inodes !== undefined && o.inodes < u.inodes) throw usage(`vault '${v.name}' holds ${u.inodes} inodes, more than the limit ${o.inodes}`);
          v.setQuota({ ...(o.bytes !== undefined ? { bytes: o.bytes } : {}), ...(o.inodes !== undefined ? { inodes: o.inodes } : {}) });
          const warning = o.bytes !== undefined ? quotaWarning(o.bytes) : null;
          if (warning) process.stderr.write(`vws: warning: ${warning}\n`);
        }
        const limit = { ...fs.quota, ...v.meta().quota };
        const doc = { vault: v.name, bytes: { used: u.bytes, limit: limit.bytes }, inodes: { used: u.inodes, limit: limit.inodes } };
        const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(2)}%`;
        print(doc, () => `bytes:  ${u.bytes} / ${limit.bytes} (${pct(u.bytes, limit.bytes)})\ninodes: ${u.inodes} / ${limit.inodes} (${pct(u.inodes, limit.inodes)})`);
      }),
    );

  program
    .command('gc')
    .description('drop data nothing reaches: store chunks and checkpoints of no vault, checkpoint or fork; files of dead writers')
    .option('--retain <ms>', 'spare unreferenced data younger than this (default 0: a command saving now is protected by the store lock)', (x) => Number(x))
    .action((o: { retain?: number }) => {
      const v = Vault.open(ctx.vaultName());
      return v.locked(() => {
        const before = dirBytes(v.dir) + dirBytes(vaultStore().root);
        const removed: string[] = [];
        // Temp files of writers that died (kill -9 between write and rename), and old-format
        // checkpoint files no meta entry names: neither is reachable, so both are garbage.
        for (const f of readdirSync(v.dir)) if (/\.tmp-\d+$/.test(f)) (unlinkSync(join(v.dir, f)), removed.push(f));
        const known = new Set(Object.keys(v.meta().checkpoints).map((n) => `${n}.snap`));
        const old = join(v.dir, 'checkpoints');
        if (existsSync(old)) for (const f of readdirSync(old)) if (v.headId() !== null || !known.has(f)) (unlinkSync(join(old, f)), removed.push(`checkpoints/${f}`));
        // Usage counters that drifted from the tree (vaults saved by an exec daemon before that leak
        // was fixed) are set to the recount, and saved.
        const fs = v.load();
        const usage = fs.repairUsage();
        const repaired = usage.before.bytes !== usage.after.bytes || usage.before.inodes !== usage.after.inodes;
        if (repaired) v.save(fs);
        const store = gcVaults(o.retain ?? 0);
        const after = dirBytes(v.dir) + dirBytes(vaultStore().root);
        const doc = { vault: v.name, removed, store, bytesBefore: before, bytesAfter: after, reclaimed: Math.max(0, before - after), usage: { ...usage.after, repaired } };
        print(doc, () => `gc: ${removed.length} files removed, ${store.chunks} chunks and ${store.checkpoints} checkpoints dropped, ${doc.reclaimed} bytes reclaimed${repaired ? `; usage set to what the tree holds: ${usage.after.inodes} inodes, ${usage.after.bytes} bytes (was ${usage.before.inodes}, ${usage.before.bytes})` : ''}`);
      });
    });

  program
    .command('shell')
    .description('an interactive shell inside the vault (FUSE-mounted; your real terminal), persisted on exit')
    .action(async () => {
      const code = await withTree(true, async (fs, v) => {
        const { mount, releaseEngine } = await import('@vws/fuse');
        releaseBasesWith(releaseEngine);
        // Our own handlers: Ctrl-C belongs to the shell, and the FUSE layer must not kill us before we save.
        const ignore = () => {};
        for (const s of ['SIGINT', 'SIGQUIT'] as const) process.on(s, ignore);
        const m = await mount(fs);
        v.adopted(fs);
        try {
          const sh = process.env.SHELL && existsSync(process.env.SHELL) ? process.env.SHELL : 'bash';
          // cwd outside the mount, then cd: this process serves the mount and must not block on it.
          const child = spawn('sh', ['-c', 'cd "$VWS_MOUNT" && exec "$0" -i', sh], { cwd: '/', stdio: 'inherit', env: curatedEnv(m.path, v.name) });
          return await new Promise<number>((res) => child.on('close', (c, sig) => res(c ?? (sig ? 128 : 1))));
        } finally {
          await m.unmount();
          for (const s of ['SIGINT', 'SIGQUIT'] as const) process.off(s, ignore);
        }
      });
      process.exitCode = code;
    });

  program
    .command('mount <dir>')
    .description('serve the vault at a host directory until Ctrl-C or `vws unmount` (holds the vault lock; saves every few seconds and at the end)')
    .action(async (dir: string) => {
      const path = resolve(dir);
      if (existsSync(path) && (!statSync(path).isDirectory() || readdirSync(path).length > 0)) throw usage(`${dir} must be an empty directory`);
      await withTree(true, async (fs, v) => {
        const { mount, releaseEngine } = await import('@vws/fuse');
        releaseBasesWith(releaseEngine);
        let stop!: () => void;
        const stopped = new Promise<void>((r) => (stop = r));
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
        const m = await mount(fs, path);
        v.adopted(fs); // the tree now lives on the serving thread: later saves take their deltas there
        const record = join(mountsDir(), `${v.name}.json`);
        const { mkdirSync } = await import('node:fs');
        mkdirSync(mountsDir(), { recursive: true });
        atomicWrite(record, JSON.stringify({ vault: v.name, path: m.path, pid: process.pid } satisfies MountRecord));
        // Persist while mounted, so a crash loses seconds of work, not the session.
        let dirty = false;
        const unwatch = fs.watch(() => (dirty = true));
        const timer = setInterval(() => {
          if (dirty) (v.save(fs), (dirty = false));
        }, Number(process.env.VWS_MOUNT_SAVE_MS ?? 3000));
        print({ mounted: m.path, vault: v.name, pid: process.pid }, () => `vault ${pc.bold(v.name)} mounted at ${m.path} (Ctrl-C or \`vws unmount ${m.path}\` to stop)`);
        try {
          await stopped;
        } finally {
          clearInterval(timer);
          if (typeof unwatch === 'function') unwatch();
          await m.unmount();
          rmSync(record, { force: true });
        }
      });
      // The FUSE layer's own signal handler may already have detached the mount, leaving its native
      // loop to linger for seconds; the vault is saved and unlocked, so leave now.
      process.exit(process.exitCode ?? 0);
    });

  program
    .command('unmount [dir]')
    .description('stop a `vws mount` (by directory, or the current vault) and wait for it to save')
    .action(async (dir?: string) => {
      const records = mountRecords();
      const target = dir ? records.find((r) => r.path === resolve(dir)) : records.find((r) => r.vault === ctx.vaultName());
      if (!target) throw new VaultError(dir ? `nothing is mounted by vws at ${resolve(dir)}` : `vault '${ctx.vaultName()}' is not mounted`, 3);
      let stale = false;
      if (processAlive(target.pid)) {
        process.kill(target.pid, 'SIGTERM');
        const deadline = Date.now() + 15_000;
        while (processAlive(target.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (processAlive(target.pid)) throw new VaultError(`vws mount (pid ${target.pid}) did not stop within 15 s`, 1);
      } else {
        // Its server died (kill -9): clear the dead mount point and the record.
        stale = true;
        const { detach } = await import('@vws/fuse');
        await detach(target.path).catch(() => {});
        rmSync(target.file, { force: true });
      }
      print({ unmounted: target.path, vault: target.vault, stale }, () => `unmounted ${target.path}${stale ? ' (stale)' : ''}`);
    });
}

/** The `patch` command (and `diff --patch`): unified diffs of the files that changed. */
export function patchAction(ctx: Ctx): (from?: string, to?: string) => Promise<void> {
  const { print, withTree } = ctx;
  return (from?: string, to?: string) =>
    withTree(false, async (fs, v) => {
      const { createTwoFilesPatch } = await import('diff'); // loaded here only: start-up is most of a command's time
      const fromName = from ?? v.newestCheckpoint();
      const a = v.loadCheckpoint(fromName);
      const b = to ? v.loadCheckpoint(to) : fs;
      const d = a.diff(b);
      const text = (f: InodeFs, p: string) => {
        const bytes = f.readFile(p);
        return isBinary(bytes) ? null : Buffer.from(bytes).toString('utf8');
      };
      const files = [
        ...d.added.filter((c) => c.kind === 'file').map((c) => ({ path: c.path, old: '', new: text(b, c.path) })),
        ...d.modified.filter((c) => c.kind === 'file').map((c) => ({ path: c.path, old: text(a, c.path), new: text(b, c.path) })),
        ...d.deleted.filter((c) => c.kind === 'file').map((c) => ({ path: c.path, old: text(a, c.path), new: '' })),
      ];
      const patches = files.map((f) => ({ path: f.path, patch: f.old === null || f.new === null ? `Binary file ${f.path} differs\n` : createTwoFilesPatch(`a${f.path}`, `b${f.path}`, f.old, f.new, fromName, to ?? 'current') }));
      print({ from: fromName, to: to ?? 'current', files: patches }, () => patches.map((p) => p.patch).join(''));
    });
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? dirBytes(join(dir, e.name)) : lstatSync(join(dir, e.name)).size;
  return n;
}
