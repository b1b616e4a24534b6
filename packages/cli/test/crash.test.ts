// Crash safety and locking through the real binary: kill -9 of `vws import` and `vws write` at random
// moments leaves the vault exactly before or exactly after the command; a second process that waits
// for the lock gets it and nothing is lost; progress bars appear on a terminal and never in pipes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, killCli, run, start, stopDaemons } from './helpers.js';

let home: string;
let tree: string;
const FILES = 2000;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  tree = mkdtempSync(join(tmpdir(), 'vws-tree-'));
  for (let d = 0; d < FILES / 100; d++) {
    mkdirSync(join(tree, `d${d}`));
    for (let f = 0; f < 100; f++) writeFileSync(join(tree, `d${d}`, `f${f}`), `content ${d} ${f}\n`.repeat(20));
  }
  expect((await run(home, ['vault', 'create', 'c'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(tree, { recursive: true, force: true });
});

function runKilledAfter(args: string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = start(home, args);
    const timer = setTimeout(() => killCli(child.pid!), ms);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const inodes = async () => {
  const r = await run(home, ['--json', '--vault', 'c', 'stats']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout).inodes as number;
};

describe('crash safety', () => {
  it('kill -9 of vws import at random moments: the vault has none of the tree or all of it', async () => {
    for (let i = 0; i < 6; i++) {
      const before = await inodes();
      // Start-up is ~200 ms and the import a few hundred more: these delays land before, during and after.
      await runKilledAfter(['--vault', 'c', 'import', tree, `/t${i}`], 150 + ((i * 233) % 900));
      const after = await inodes();
      const all = before + FILES + FILES / 100 + 1;
      expect([before, all], `run ${i}: ${before} -> ${after}`).toContain(after);
      if (after === all) {
        const r = await run(home, ['--json', '--vault', 'c', 'cat', `/t${i}/d7/f42`]);
        expect(JSON.parse(r.stdout).content).toBe('content 7 42\n'.repeat(20));
      }
    }
  }, 120_000);

  it('kill -9 of vws write at random moments: the file holds the old content or the new, whole', async () => {
    const big = (n: number) => `${n}:`.padEnd(200_000, String(n % 10));
    expect((await run(home, ['--vault', 'c', 'write', '/w'], { input: big(0) })).code).toBe(0);
    let last = 0;
    for (let i = 1; i <= 6; i++) {
      await new Promise<void>((resolve) => {
        const child = start(home, ['--vault', 'c', 'write', '/w'], { input: big(i) });
        const timer = setTimeout(() => killCli(child.pid!), 100 + ((i * 157) % 400));
        child.on('close', () => (clearTimeout(timer), resolve()));
      });
      const r = await run(home, ['--json', '--vault', 'c', 'cat', '/w']);
      expect(r.code, r.stderr).toBe(0);
      const content = JSON.parse(r.stdout).content as string;
      expect([big(last), big(i)]).toContain(content);
      if (content === big(i)) last = i;
    }
  }, 120_000);
});

describe('kill -9 loops', () => {
  it('200 kill -9 of vws write at random moments: every next open works and reads a whole version', async () => {
    const big = (n: number) => `${n}:`.padEnd(100_000, String(n % 10));
    expect((await run(home, ['vault', 'create', 'loop'])).code).toBe(0);
    const seen = new Set<string>([big(-1)]);
    expect((await run(home, ['--vault', 'loop', 'write', '/w'], { input: big(-1) })).code).toBe(0);
    const failures: string[] = [];
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const child = start(home, ['--vault', 'loop', 'write', '/w'], { input: big(i), env: { VWS_DAEMON: '0' } });
        const timer = setTimeout(() => killCli(child.pid!), 30 + ((i * 197) % 700));
        child.on('close', () => (clearTimeout(timer), resolve()));
      });
      seen.add(big(i));
      const r = await run(home, ['--json', '--vault', 'loop', 'cat', '/w'], { env: { VWS_DAEMON: '0' } });
      if (r.code !== 0) failures.push(`#${i}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
      else if (!seen.has(JSON.parse(r.stdout).content)) failures.push(`#${i}: content of no version written`);
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('kill -9 of an in-process exec, 30 times: once the next vws has mounted, none of their mounts, mount directories or stdin directories is left', async () => {
    expect((await run(home, ['vault', 'create', 'ex'])).code).toBe(0);
    const killed: number[] = [];
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve) => {
        const child = start(home, ['--vault', 'ex', 'exec', '--', 'sh', '-c', `echo ${i} > n; sleep 5`], { env: { VWS_DAEMON: '0' } });
        const timer = setTimeout(() => {
          killed.push(child.pid!, ...childrenOf(child.pid!));
          killCli(child.pid!);
        }, 300 + ((i * 211) % 1500));
        child.on('close', () => (clearTimeout(timer), resolve()));
      });
    }
    // The next exec's first mount sweeps what dead servers left (@vws/fuse sweepDeadServers).
    expect((await run(home, ['--vault', 'ex', 'exec', '--', 'true'], { env: { VWS_DAEMON: '0' } })).code).toBe(0);
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => killed.some((p) => l.startsWith(`vws:${p} `)));
    expect(mounts).toEqual([]);
    // Nor anything named vws-* of theirs: mount directories, stdin FIFO directories (swept by the
    // next exec that pipes stdin, as this one does).
    const dirs = readdirSync(tmpdir()).filter((n) => killed.some((p) => n.startsWith('vws-') && n.includes(`-${p}-`)));
    expect(dirs).toEqual([]);
  }, 600_000);
});

/** Pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('two processes on one vault', () => {
  it('the second waits for the lock, then runs; both changes are kept', async () => {
    const first = run(home, ['--vault', 'c', 'exec', '--', 'sh', '-c', 'sleep 1.5; echo one > one.txt']);
    await new Promise((r) => setTimeout(r, 900));
    const t0 = Date.now();
    const second = await run(home, ['--vault', 'c', 'write', '/two.txt', 'two'], { env: { VWS_LOCK_WAIT_MS: '20000' } });
    expect(second.code, second.stderr).toBe(0);
    expect((await first).code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThan(300); // it did wait
    expect(JSON.parse((await run(home, ['--json', '--vault', 'c', 'cat', '/one.txt'])).stdout).content).toBe('one\n');
    expect(JSON.parse((await run(home, ['--json', '--vault', 'c', 'cat', '/two.txt'])).stdout).content).toBe('two');
  }, 60_000);
});

describe('progress bars', () => {
  it('appear on a terminal for a big import, and never in a pipe or with --json', async () => {
    // script(1) gives the command a real pseudo-terminal.
    const cmd = `${process.execPath} ${bin} --vault c import ${tree} /tty`;
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: home, env: { ...process.env, VWS_HOME: home }, encoding: 'utf8' });
    expect(tty.status, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/import \[.*\] \d+%/);
    const piped = await run(home, ['--vault', 'c', 'import', tree, '/piped']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/%/);
    expect(piped.stdout).toMatch(/imported 2000 files/);
  }, 60_000);
});
