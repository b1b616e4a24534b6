// A vault past 2 GiB (3 GiB of distinct bytes) through the real `vws`: an exec writes it and saves it,
// the next exec reopens it and checks every byte. A snapshot is one buffer and cannot pass 2 GiB:
// saves and loads go chunk by chunk, and the tree moves to the serving thread as its manifest and
// chunks, handed over rather than copied. Peak resident memory of each command is measured (GNU time).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bin } from './helpers.js';

const GiB = 1024 ** 3;
const home = mkdtempSync(join(tmpdir(), 'vws-big-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs vws under GNU time: its exit code, output and peak resident bytes. */
function timed(args: string[]): Promise<{ code: number; out: string; peak: number }> {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'vws-peak-kb=%M', process.execPath, bin, ...args], { env: { ...process.env, VWS_HOME: home, VWS_DAEMON: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code: code ?? -1, out: out + err, peak: Number(/vws-peak-kb=(\d+)/.exec(err)?.[1]) * 1024 }));
  });
}

it('a 3 GiB vault is saved by exec and reopened by the next one, byte for byte, in bounded memory', async () => {
  expect(existsSync('/usr/bin/time'), 'GNU time measures the peaks (apt-get install time)').toBe(true);
  expect((await timed(['vault', 'create', 'big'])).code).toBe(0);
  // AES-CTR of zeros: 3 GiB of bytes no two chunks share, made fast.
  const write = await timed(['--vault', 'big', 'exec', '--', 'sh', '-c', 'openssl enc -aes-128-ctr -pass pass:vws -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c 3221225472 > big.bin && sha256sum big.bin > sum']);
  expect(write.code, write.out).toBe(0);
  const stats = await timed(['--json', '--vault', 'big', 'stats']);
  expect(JSON.parse(stats.out.slice(0, stats.out.lastIndexOf('}') + 1)).bytes).toBeGreaterThan(3 * GiB);
  const check = await timed(['--vault', 'big', 'exec', '--', 'sha256sum', '-c', 'sum']);
  expect(check.code, check.out).toBe(0);
  expect(check.out).toContain('big.bin: OK');
  console.log(JSON.stringify({ vault_GiB: 3, exec_write_peak_GiB: +(write.peak / GiB).toFixed(2), exec_reopen_peak_GiB: +(check.peak / GiB).toFixed(2) }));
  // Bounds (README, measured 1.2x and 3.1x): a reopen holds the tree about once; the first save of
  // 3 GiB of new data about three times (the serving thread's engine, the chunks it hands over to be
  // written, and what the save holds while it writes them).
  expect(check.peak).toBeLessThan(1.6 * 3 * GiB);
  expect(write.peak).toBeLessThan(3.6 * 3 * GiB);
}, 900_000);
