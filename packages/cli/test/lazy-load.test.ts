// Commands load a vault lazily: its manifests, and a chunk's bytes only when something reads it (FUSE
// reads park until the host fetched them; API reads fetch and run again). VWS_PREFETCH_BYTES=0 makes
// every vault lazy (by default one of at most 8 MiB is fetched whole at load). The proof that nothing
// else is read: a chunk of a big file deleted from the store, and every command that does not read
// that file still works, while the ones that do fail with exit 4 naming the vault.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bin, run, stopDaemons } from './helpers.js';

const home = mkdtempSync(join(tmpdir(), 'vws-lazy-home-'));
const host = mkdtempSync(join(tmpdir(), 'vws-lazy-host-'));
const env = { VWS_PREFETCH_BYTES: '0', VWS_DAEMON: '0' };
const vws = async (args: string[], extra: Record<string, string> = {}) => run(home, ['--vault', 'v', ...args], { env: { ...env, ...extra } });
const ok = async (args: string[], extra: Record<string, string> = {}) => {
  const r = await vws(args, extra);
  expect(r.code, `vws ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

// 4 MiB of distinct bytes (a counter through SHA-256), and a chunk of it (16 KiB chunks) to delete later.
const big = Buffer.concat(Array.from({ length: 128 }, (_, i) => Buffer.concat(Array.from({ length: 1024 }, (_, j) => createHash('sha256').update(`${i}:${j}`).digest()))));
const lostChunk = createHash('sha256').update(big.subarray(5 * 16384, 6 * 16384)).digest('hex');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  mkdirSync(join(host, 'src/sub'), { recursive: true });
  writeFileSync(join(host, 'src/big.bin'), big);
  writeFileSync(join(host, 'src/sub/small.txt'), 'small and sweet\n');
  expect((await run(home, ['vault', 'create', 'v'])).code).toBe(0);
  await ok(['import', join(host, 'src'), '/p']);
  await ok(['checkpoint', 'save', 'c1']);
  await ok(['write', '/p/sub/small.txt', 'changed\n']);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

it('API reads fetch what they read: cat, grep, cp -r, export, diff --patch, checkpoint restore', async () => {
  expect(await ok(['cat', '/p/sub/small.txt'])).toBe('changed\n');
  expect(JSON.parse(await ok(['--json', 'grep', 'changed', '/p'])).matches).toEqual([{ path: '/p/sub/small.txt', line: 1, text: 'changed' }]);
  await ok(['cp', '-r', '/p', '/q']);
  const out = join(host, 'out');
  await ok(['export', out]);
  expect(sha(readFileSync(join(out, 'q/big.bin')))).toBe(sha(big));
  expect(readFileSync(join(out, 'q/sub/small.txt'), 'utf8')).toBe('changed\n');
  expect(await ok(['diff', '--patch', 'c1'])).toContain('-small and sweet\n+changed');
  await ok(['checkpoint', 'restore', 'c1']);
  expect(await ok(['cat', '/p/sub/small.txt'])).toBe('small and sweet\n');
});

it('exec through FUSE reads parked chunks, and its save refers to the chunks it never read', async () => {
  for (const daemon of ['0', '1']) {
    const r = await vws(['exec', '--', 'sh', '-c', `sha256sum p/big.bin; echo d${daemon} > p/sub/new.txt`], { VWS_DAEMON: daemon });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(sha(big));
  }
  // Saved by both: a delta that references the big file's chunks by hash.
  expect(await ok(['cat', '/p/sub/new.txt'])).toBe('d1\n');
  const r = await vws(['exec', '--', 'sha256sum', 'p/big.bin']);
  expect(r.stdout).toContain(sha(big));
});

it('exec without FUSE (sync mode) fetches the whole tree for its shadow directory', async () => {
  // bwrap with a /dev that has no fuse device, as a container started without --device /dev/fuse.
  const r = spawnSync('bwrap', ['--bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', process.execPath, bin, '--vault', 'v', 'exec', '--', 'sh', '-c', 'sha256sum p/sub/small.txt p/big.bin; echo s > synced.txt'], { cwd: home, env: { ...process.env, ...env, VWS_HOME: home }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain(sha(big));
  expect(await ok(['cat', '/synced.txt'])).toBe('s\n');
}, 60_000);

it('with a chunk gone, only what reads it fails (exit 4, naming the vault); everything else works', async () => {
  const chunk = join(home, 'store', 'chunks', lostChunk.slice(0, 2), lostChunk);
  expect(existsSync(chunk)).toBe(true);
  rmSync(chunk);
  expect(await ok(['ls', '/p'])).toMatch(/big\.bin\t4194304/);
  expect(await ok(['cat', '/p/sub/small.txt'])).toBe('small and sweet\n');
  await ok(['write', '/p/w.txt', 'written']);
  await ok(['mv', '/p/w.txt', '/p/w2.txt']);
  expect((await ok(['exec', '--', 'sh', '-c', 'cat p/w2.txt; echo; head -c 16384 p/big.bin | sha256sum'])).split('\n')[0]).toBe('written');
  const cat = await vws(['cat', '/p/big.bin']);
  expect(cat.code, cat.stderr).toBe(4);
  expect(cat.stderr.trim()).toMatch(/^vws: vault 'v' cannot be read: .*missing/);
  const exec = await vws(['exec', '--', 'cat', 'p/big.bin']);
  expect(exec.code).not.toBe(0); // the read fails (EIO); nothing hangs
  expect(await ok(['cat', '/p/w2.txt'])).toBe('written');
}, 60_000);
