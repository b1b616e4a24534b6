// The real `vws` binary on a host without FUSE: bubblewrap gives it the whole machine but a /dev
// that has no fuse device (as a container started without --device /dev/fuse). exec still works,
// in PtySandbox's sync mode (a shadow directory in /dev/shm), never through the daemon; the commands
// that need a mount say what is missing, with exit code 7; doctor says what to do.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, run, stopDaemons, type Run } from './helpers.js';

let home: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  expect((await run(home, ['vault', 'create', 'n'])).code).toBe(0);
});
afterAll(async () => {
  expect(await stopDaemons(home)).toEqual([]); // none was started without FUSE
  rmSync(home, { recursive: true, force: true });
});

/** vws in a mount namespace whose /dev lacks fuse (bwrap must be installed: scripts/setup.sh does). */
function noFuse(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bwrap', ['--bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', process.execPath, bin, ...args], { cwd: home, env: { ...process.env, VWS_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vws without FUSE', () => {
  it('exec runs in sync mode: output, exit code, changes and persistence as with FUSE', async () => {
    const r = await noFuse(['--json', '--vault', 'n', 'exec', '--', 'sh', '-c', 'test -e /dev/fuse && echo has-fuse; echo made > made.txt; chmod 755 made.txt; echo oops >&2; exit 5']);
    expect(r.code, r.stderr).toBe(5);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ exitCode: 5, stdout: '', stderr: 'oops\n' });
    expect(doc.changes.created).toEqual(['/made.txt']);
    const stat = JSON.parse((await run(home, ['--json', '--vault', 'n', 'stat', '/made.txt'])).stdout);
    expect(stat).toMatchObject({ kind: 'file', size: 5, mode: '0755' });
    // Piped stdin reaches the command here too.
    const piped = await noFuse(['--vault', 'n', 'exec', '--', 'sh', '-c', 'cat > piped.txt; wc -c < piped.txt'], 'x'.repeat(10_000));
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.trim()).toBe('10000');
    // No daemon was started for it.
    expect(JSON.parse((await run(home, ['--json', 'daemon', 'status'])).stdout).daemons).toEqual([]);
  });

  it('shell, mount and daemon start say FUSE is missing and what to do (exit 7); doctor fails on it', async () => {
    for (const args of [['--vault', 'n', 'shell'], ['--vault', 'n', 'mount', join(home, 'mnt')], ['daemon', 'start']]) {
      const r = await noFuse(['--json', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(7);
      expect(JSON.parse(r.stdout).error.message).toMatch(/FUSE is not available: \/dev\/fuse does not exist\. .*--device \/dev\/fuse/);
    }
    const human = await noFuse(['--vault', 'n', 'shell']);
    expect(human.code).toBe(7);
    expect(human.stderr).toMatch(/^vws: FUSE is not available/);
    const doctor = await noFuse(['--json', 'doctor']);
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout).checks[0]).toMatchObject({ check: 'fuse', ok: false, detail: expect.stringMatching(/\/dev\/fuse does not exist/) });
  });
});
