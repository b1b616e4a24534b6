// The exec daemon when things go wrong: its spawner killed between runs and mid-run (the daemon starts
// a new one; the waiting exec gets an error, never a hang; the command does not survive), and a daemon
// that stops answering (`doctor` says so, `daemon stop` ends it within its deadline).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, stopDaemons } from './helpers.js';
import { processAlive } from '../src/process-alive.js';

let home: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  expect((await run(home, ['vault', 'create', 'r'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});

const vws = (args: string[]) => run(home, ['--vault', 'r', ...args]);
const ok = async (args: string[]) => {
  const r = await vws(args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
};
async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const daemonPid = async (): Promise<number> => JSON.parse((await ok(['--json', 'daemon', 'start'])).stdout).pid;
const spawnerOf = (daemon: number) => childrenOf(daemon).find((p) => cmdline(p).some((a) => a.includes('spawner-main')));
/** Processes whose command line is exactly argv (ours are unique: a marker argument). */
const running = (argv: string[]) => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(Number(p)).slice(0, argv.length).join('\0') === argv.join('\0'));

describe('exec daemon robustness', () => {
  it('starts a new spawner when its spawner was killed between runs', async () => {
    await ok(['exec', '--', 'sh', '-c', 'echo 1 > one']);
    const daemon = await daemonPid();
    const spawner = spawnerOf(daemon)!;
    expect(spawner).toBeGreaterThan(0);
    process.kill(spawner, 'SIGKILL');
    await until('the spawner is gone', () => !processAlive(spawner));
    const r = await ok(['exec', '--', 'sh', '-c', 'cat one; echo 2 > two']);
    expect(r.stdout).toBe('1\n');
    expect(await daemonPid()).toBe(daemon); // the same daemon, a new spawner
    expect(spawnerOf(daemon)).not.toBe(spawner);
    expect((await ok(['cat', '/two'])).stdout).toBe('2\n');
  }, 60_000);

  it('fails the waiting exec (no hang) when its spawner is killed mid-run, and serves the next one', async () => {
    const daemon = await daemonPid();
    const marker = ['sleep', '37.25'];
    const child = start(home, ['--vault', 'r', 'exec', '--', 'sh', '-c', `echo started; echo partial > partial; exec ${marker.join(' ')}`], { input: 'unread stdin' });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('the command runs', () => stdout.includes('started') && running(marker).length > 0);
    const spawner = spawnerOf(daemon)!;
    process.kill(spawner, 'SIGKILL');
    const code = await Promise.race([closed, new Promise<'hang'>((r) => setTimeout(() => r('hang'), 20_000))]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^vws: the process that started the command \(the spawner, pid \d+\) died \(SIGKILL\): the command was killed\n$/);
    await until('the command is gone', () => running(marker).length === 0);
    // Nothing of the killed run was saved; the next exec runs as usual on the same daemon.
    expect((await vws(['cat', '/partial'])).code).toBe(6);
    expect((await ok(['exec', '--', 'sh', '-c', 'cat one two'])).stdout).toBe('1\n2\n');
    expect(await daemonPid()).toBe(daemon);
  }, 60_000);

  it('doctor reports a daemon that does not answer; daemon stop ends it within its deadline', async () => {
    const daemon = await daemonPid();
    process.kill(daemon, 'SIGSTOP'); // alive, its socket accepting, nobody answering
    try {
      const doctor = await run(home, ['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(new RegExp(`!!\\s+daemon: 1 exec daemon\\(s\\): pid ${daemon} NOT ANSWERING`));
      const began = Date.now();
      const stop = JSON.parse((await ok(['--json', 'daemon', 'stop'])).stdout);
      expect(stop).toEqual({ stopped: [daemon] });
      expect(Date.now() - began).toBeLessThan(20_000); // its deadline, not a hang
      expect(processAlive(daemon)).toBe(false);
    } finally {
      if (processAlive(daemon)) process.kill(daemon, 'SIGCONT');
    }
    expect((await run(home, ['doctor'])).stdout).toMatch(/ok\s+daemon: no exec daemon running/);
    // And the next exec starts a fresh one.
    expect((await ok(['exec', '--', 'cat', 'one'])).stdout).toBe('1\n');
    expect(await daemonPid()).not.toBe(daemon);
  }, 60_000);
});
