// A vault past 2 GiB (3 GiB of distinct bytes) through the real `vws`: an exec writes it and saves it,
// later commands reopen it: stats, cat and an exec that read one small file, and an exec that checks
// every byte. Loads are lazy (the manifests; a chunk when something reads it) and saves write chunks
// a batch at a time, so memory follows what a command touches. Peak resident memory of each command
// is measured (GNU time).
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
  // Commands that touch little load the manifests and fetch only what they read.
  const stats = await timed(['--json', '--vault', 'big', 'stats']);
  expect(JSON.parse(stats.out.slice(0, stats.out.lastIndexOf('}') + 1)).bytes).toBeGreaterThan(3 * GiB);
  const cat = await timed(['--vault', 'big', 'cat', '/sum']);
  expect(cat.code, cat.out).toBe(0);
  expect(cat.out).toMatch(/^[0-9a-f]{64} {2}big\.bin$/m);
  const small = await timed(['--vault', 'big', 'exec', '--', 'sh', '-c', 'cat sum; ls -l']);
  expect(small.code, small.out).toBe(0);
  // A reopen that reads every byte (through FUSE, fetched as read).
  const check = await timed(['--vault', 'big', 'exec', '--', 'sha256sum', '-c', 'sum']);
  expect(check.code, check.out).toBe(0);
  expect(check.out).toContain('big.bin: OK');
  const peaks = { exec_write_save: write.peak, stats: stats.peak, cat_small: cat.peak, exec_read_small: small.peak, exec_read_all: check.peak };
  console.log(JSON.stringify({ vault_GiB: 3, ...Object.fromEntries(Object.entries(peaks).map(([k, v]) => [`${k}_peak_GiB`, +(v / GiB).toFixed(2)])) }));
  // Bounds (README "Size and memory"; measured 2026-11-30 in two runs: 3.65-3.74, 0.20-0.22,
  // 0.18-0.19, 0.36-0.38, 3.47-3.49 GiB): the first save holds the tree once plus a batch (1.22-1.25x;
  // was 3.1x); commands that read little hold the chunk refs of the manifests, not the bytes; a reopen
  // that reads everything holds it once (1.16x).
  expect(write.peak).toBeLessThan(1.35 * 3 * GiB);
  expect(stats.peak).toBeLessThan(0.4 * GiB);
  expect(cat.peak).toBeLessThan(0.4 * GiB);
  expect(small.peak).toBeLessThan(0.5 * GiB);
  expect(check.peak).toBeLessThan(1.3 * 3 * GiB);
}, 900_000);
