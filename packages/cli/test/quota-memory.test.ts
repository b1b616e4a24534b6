// A vault's tree lives in memory, so a vault with no byte limit of its own gets what the host can hold:
// min(8 GiB, half its memory). Past it a write fails with ENOSPC (a command in exec sees a full disk,
// and what it wrote up to there is saved) instead of the kernel killing the process; a limit set above
// what the host can hold is warned about. VWS_DEFAULT_QUOTA_BYTES stands in for a small host here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { run, stopDaemons } from './helpers.js';

const home = mkdtempSync(join(tmpdir(), 'vws-quota-mem-'));
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});
const MiB = 1024 * 1024;

it('a vault without its own limit gets min(8 GiB, half the host memory)', async () => {
  expect((await run(home, ['vault', 'create', 'd'])).code).toBe(0);
  const r = await run(home, ['--json', '--vault', 'd', 'quota'], { env: { VWS_DAEMON: '0' } });
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).bytes.limit).toBe(Math.min(8 * 1024 ** 3, Math.floor(totalmem() / 2)));
});

it('past the default limit: ENOSPC, saying why, and the exec keeps what fitted', async () => {
  const env = { VWS_DAEMON: '0', VWS_DEFAULT_QUOTA_BYTES: String(4 * MiB) };
  expect((await run(home, ['vault', 'create', 's'])).code).toBe(0);
  const exec = await run(home, ['--vault', 's', 'exec', '--', 'sh', '-c', 'echo before > before.txt; head -c 8388608 /dev/zero > big; echo "rc=$?"'], { env });
  expect(exec.code, exec.stderr).toBe(0);
  expect(exec.stdout + exec.stderr).toMatch(/No space left on device/);
  expect(exec.stdout).toContain('rc=1');
  const st = JSON.parse((await run(home, ['--json', '--vault', 's', 'stat', '/big'], { env })).stdout);
  expect(st.size).toBeGreaterThan(3 * MiB);
  expect(st.size).toBeLessThanOrEqual(4 * MiB);
  expect((await run(home, ['--vault', 's', 'cat', '/before.txt'], { env })).stdout).toBe('before\n');
  // Through the API: exit 6, one line naming the limit and why there is one; nothing changed.
  const w = await run(home, ['--vault', 's', 'write', '/more.bin'], { env, input: 'x'.repeat(2 * MiB) });
  expect(w.code).toBe(6);
  expect(w.stderr.trim().split('\n')).toHaveLength(1);
  expect(w.stderr).toMatch(/byte quota of 4194304 reached.*lives in memory.*half this host's memory/);
  expect((await run(home, ['--vault', 's', 'ls', '/'], { env })).stdout).not.toContain('more.bin');
}, 60_000);

it('a limit above what the host can hold is set, with a warning; one below it without', async () => {
  expect((await run(home, ['vault', 'create', 'q'])).code).toBe(0);
  const big = await run(home, ['--vault', 'q', 'quota', '--bytes', String(totalmem())], { env: { VWS_DAEMON: '0' } });
  expect(big.code).toBe(0);
  expect(big.stderr).toMatch(/^vws: warning: a byte limit of \d+ is more than half this host's memory/);
  const small = await run(home, ['--vault', 'q', 'quota', '--bytes', '64M'], { env: { VWS_DAEMON: '0' } });
  expect(small.code).toBe(0);
  expect(small.stderr).toBe('');
});
