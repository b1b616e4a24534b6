// The real `vws` binary in a temp $VWS_HOME: commands, --json output, errors and exit codes,
// persistence across processes, crash safety under kill -9, and two processes on one vault.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuseMounts } from '@vws/fuse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killCli, stopDaemons } from './helpers.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/vws.js');
let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function vws(args: string[], opts: { input?: string; env?: Record<string, string>; killAfterMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Asynchronous and with cwd outside any mount: the CLI serves its own FUSE mount during exec.
    const child = spawn(process.execPath, [bin, ...args], { cwd: home, env: { ...process.env, VWS_HOME: home, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    const timer = opts.killAfterMs !== undefined ? setTimeout(() => killCli(child.pid!), opts.killAfterMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const ok = async (args: string[], opts?: Parameters<typeof vws>[1]) => {
  const r = await vws(args, opts);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
};
const j = async (args: string[], opts?: Parameters<typeof vws>[1]) => JSON.parse((await ok(['--json', ...args], opts)).stdout);

describe('vws', () => {
  it('vault create, list, use, fork, delete', async () => {
    expect(await j(['vault', 'create', 'alpha'])).toEqual({ created: 'alpha' });
    expect(await j(['vault', 'use', 'alpha'])).toEqual({ using: 'alpha' });
    await ok(['write', '/a.txt', 'A']);
    expect(await j(['vault', 'fork', 'alpha', 'beta'])).toEqual({ forked: 'alpha', to: 'beta' });
    await ok(['--vault', 'beta', 'write', '/a.txt', 'B']);
    expect((await j(['cat', '/a.txt'])).content).toBe('A');
    expect((await j(['--vault', 'beta', 'cat', '/a.txt'])).content).toBe('B');
    expect((await j(['vault', 'list'])).vaults.map((v: { name: string }) => v.name)).toEqual(['alpha', 'beta']);
    expect(await j(['vault', 'delete', 'beta'])).toEqual({ deleted: 'beta' });
    expect((await j(['vault', 'list'])).vaults.map((v: { name: string }) => v.name)).toEqual(['alpha']);
  });

  it('takes --json and --vault after the command as well as before it', async () => {
    expect(JSON.parse((await ok(['vault', 'list', '--json'])).stdout).vaults.map((v: { name: string }) => v.name)).toEqual(['alpha']);
    await ok(['write', '/after.txt', 'after', '--vault', 'alpha']);
    const ran = JSON.parse((await ok(['exec', '--vault', 'alpha', '--json', '--', 'cat', 'after.txt'])).stdout);
    expect(ran.stdout).toBe('after');
    // What follows exec's command is the command's: --json goes to echo.
    expect((await ok(['--vault', 'alpha', 'exec', 'echo', '--json'])).stdout).toBe('--json\n');
    await ok(['rm', '/after.txt', '--vault=alpha']);
  });

  it('files: write (argument and stdin), cat, ls, mkdir, stat, rm', async () => {
    await ok(['--vault', 'alpha', 'mkdir', '-p', '/src/lib']);
    await ok(['--vault', 'alpha', 'write', '/src/lib/x.ts'], { input: 'export const x = 1;\n' });
    expect((await vws(['--vault', 'alpha', 'cat', '/src/lib/x.ts'])).stdout).toBe('export const x = 1;\n');
    expect((await j(['--vault', 'alpha', 'ls', '/src'])).entries).toEqual([{ name: 'lib', kind: 'directory', size: 4096 }]);
    expect(await j(['--vault', 'alpha', 'stat', '/src/lib/x.ts'])).toMatchObject({ kind: 'file', size: 20, mode: '0644' });
    await ok(['--vault', 'alpha', 'rm', '-r', '/src']);
    expect((await j(['--vault', 'alpha', 'ls', '/'])).entries.map((e: { name: string }) => e.name)).toEqual(['a.txt']);
  });

  it('checkpoints and diff', async () => {
    await ok(['--vault', 'alpha', 'checkpoint', 'save', 'c1']);
    await ok(['--vault', 'alpha', 'write', '/a.txt', 'changed']);
    await ok(['--vault', 'alpha', 'write', '/b.txt', 'new']);
    expect(await j(['--vault', 'alpha', 'diff', 'c1'])).toEqual({ from: 'c1', to: 'current', added: ['/b.txt'], modified: ['/a.txt'], deleted: [], renamed: [] });
    // No checkpoint named: the newest (c2, saved after those changes).
    await ok(['--vault', 'alpha', 'checkpoint', 'save', 'c2']);
    await ok(['--vault', 'alpha', 'rm', '/b.txt']);
    expect(await j(['--vault', 'alpha', 'diff'])).toEqual({ from: 'c2', to: 'current', added: [], modified: [], deleted: ['/b.txt'], renamed: [] });
    await ok(['--vault', 'alpha', 'checkpoint', 'delete', 'c2']);
    expect((await j(['--vault', 'alpha', 'checkpoint', 'list'])).checkpoints.map((c: { name: string }) => c.name)).toEqual(['c1']);
    await ok(['--vault', 'alpha', 'checkpoint', 'restore', 'c1']);
    expect((await j(['--vault', 'alpha', 'cat', '/a.txt'])).content).toBe('A');
    await ok(['--vault', 'alpha', 'checkpoint', 'delete', 'c1']);
    expect((await j(['--vault', 'alpha', 'checkpoint', 'list'])).checkpoints).toEqual([]);
    const none = await vws(['--vault', 'alpha', 'diff']);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/has no checkpoint to compare with/);
  });

  it('exec runs a real command in the vault, persists, reports changes and returns its exit code', async () => {
    const raw = await vws(['--json', '--vault', 'alpha', 'exec', '--', 'sh', '-c', 'cat a.txt; echo x > made.txt; echo oops >&2; exit 7']);
    expect(raw.code).toBe(7);
    const r = JSON.parse(raw.stdout);
    expect(r).toMatchObject({ exitCode: 7, stdout: 'A', stderr: 'oops\n', changes: { created: ['/made.txt'], modified: [], deleted: [] } });
    expect((await j(['--vault', 'alpha', 'cat', '/made.txt'])).content).toBe('x\n');
  });

  it('git clone of a local repo in one process, git log in a later one', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'vws-repo-'));
    try {
      const g = 'git -c user.name=t -c user.email=t@t -c init.defaultBranch=main';
      await new Promise((r) => spawn('sh', ['-c', `cd "${repo}" && ${g} init -q && echo hi > f && ${g} add f && ${g} commit -qm "first commit"`]).on('close', r));
      await ok(['vault', 'create', 'gitv']);
      await ok(['--vault', 'gitv', 'exec', '--', 'git', 'clone', '-q', repo, 'clone']);
      const log = await ok(['--vault', 'gitv', 'exec', '--', 'git', '-C', 'clone', 'log', '--format=%s']);
      expect(log.stdout).toBe('first commit\n');
      // From the vault on disk, in a process of its own (not the exec daemon's loaded tree).
      const fromDisk = await ok(['--vault', 'gitv', 'exec', '--', 'git', '-C', 'clone', 'log', '--format=%s'], { env: { VWS_DAEMON: '0' } });
      expect(fromDisk.stdout).toBe('first commit\n');
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('errors: unknown vault, bad name, missing file, bad usage — with exit codes and JSON', async () => {
    const unknown = await vws(['--json', '--vault', 'nope', 'ls']);
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stdout).error.message).toMatch(/no vault named 'nope'/);
    const badName = await vws(['vault', 'create', '../evil']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/not a valid vault/);
    const missing = await vws(['--json', '--vault', 'alpha', 'cat', '/missing.txt']);
    expect(missing.code).toBe(6);
    expect(JSON.parse(missing.stdout).error.code).toBe('ENOENT');
    const usage = await vws(['vault', 'create']);
    expect(usage.code).toBe(2);
    const doctor = await j(['doctor']);
    expect(doctor.checks.map((c: { check: string }) => c.check)).toEqual(['fuse', 'bubblewrap', 'node', 'mounts', 'daemon', 'wakeups', 'usage']);
    expect(doctor.checks[6]).toMatchObject({ ok: true, detail: expect.stringMatching(/^vault '\w+': \d+ inodes, \d+ bytes, as the tree holds$/) }); // the selected vault's counters
    expect(doctor.checks[4].detail).toMatch(/^1 exec daemon\(s\): pid \d+, \d+ execs, vaults loaded: .*alpha/); // the exec tests' daemon
  });

  it('a second process on a locked vault waits, then fails with a clear message; nothing is lost', async () => {
    const slow = vws(['--vault', 'alpha', 'exec', '--', 'sh', '-c', 'sleep 3; echo slow > slow.txt']);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await vws(['--vault', 'alpha', 'write', '/other.txt', 'x'], { env: { VWS_LOCK_WAIT_MS: '300' } });
    expect(second.code).toBe(5);
    expect(second.stderr).toMatch(/in use by another vws process/);
    expect((await slow).code).toBe(0);
    expect((await j(['--vault', 'alpha', 'cat', '/slow.txt'])).content).toBe('slow\n');
  });

  it('kill -9 of vws exec at random moments leaves the vault before or after, never damaged', async () => {
    // This test's mounts: new since it started, served by a process of this $VWS_HOME or by a dead one
    // (other test runs on the machine have mounts of their own).
    const before = new Set(fuseMounts().map((m) => m.path));
    const ours = () =>
      fuseMounts().filter((m) => {
        if (before.has(m.path)) return false;
        try {
          return readFileSync(`/proc/${m.pid}/environ`, 'utf8').split('\0').includes(`VWS_HOME=${home}`);
        } catch {
          return true; // the server is gone
        }
      });
    await ok(['vault', 'create', 'crash']);
    await ok(['--vault', 'crash', 'write', '/counter', '0']);
    for (let i = 0; i < 6; i++) {
      // A command that writes a lot, killed somewhere between start and persistence.
      await vws(['--vault', 'crash', 'exec', '--', 'sh', '-c', `for n in $(seq 1 200); do echo $n > f$n; done; echo ${i + 1} > counter`], { killAfterMs: 300 + ((i * 397) % 1500) });
      const r = await vws(['--json', '--vault', 'crash', 'cat', '/counter']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const value = Number(JSON.parse(r.stdout).content);
      expect(value === 0 || value <= i + 1).toBe(true);
    }
    // The killed processes' mounts go away by themselves (auto_unmount), without our help.
    const deadline = Date.now() + 10_000;
    while (ours().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ours()).toEqual([]);
  }, 120_000);
});
