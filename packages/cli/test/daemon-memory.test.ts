// The exec daemon holds at most its byte budget of loaded vaults (VWS_DAEMON_CACHE_BYTES): after execs
// on more vaults than fit, the least recently used are evicted and their engines released on the
// serving thread, so its resident memory stays near the budget; an evicted vault loads again, whole.
// Also an idle time (VWS_DAEMON_VAULT_IDLE_MS) after which a vault is evicted however small.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { held } from './daemon-resources.js';
import { run, stopDaemons } from './helpers.js';

const home = mkdtempSync(join(tmpdir(), 'vws-daemon-mem-'));
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});
const MiB = 1024 * 1024;
const env = { VWS_DAEMON: '1', VWS_DAEMON_CACHE_BYTES: String(100 * MiB), VWS_DAEMON_VAULT_IDLE_MS: '600000' };
const ok = async (args: string[], extra: Record<string, string> = {}) => {
  const r = await run(home, args, { env: { ...env, ...extra } });
  expect(r.code, `vws ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const status = async () => JSON.parse(await ok(['--json', 'daemon', 'status'])).daemons[0] as { pid: number; vaults: string[]; vaultBytes: number };

it('after execs on 8 vaults of 48 MiB under a 100 MiB budget, the daemon holds two; an evicted one reloads whole', async () => {
  for (let i = 0; i < 8; i++) await ok(['vault', 'create', `v${i}`]);
  await ok(['--vault', 'v0', 'exec', '--', 'true']);
  const base = held((await status()).pid).rssMiB;
  const sums: string[] = [];
  let rss4 = 0;
  for (let i = 0; i < 8; i++) {
    // 48 MiB of distinct bytes (no two chunks alike), and their checksum.
    const out = await ok(['--vault', `v${i}`, 'exec', '--', 'sh', '-c', `openssl enc -aes-128-ctr -pass pass:v${i} -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c ${48 * MiB} > data.bin && sha256sum data.bin`]);
    sums.push(out.split(' ')[0]!);
    const s = await status();
    expect(s.vaultBytes, JSON.stringify(s)).toBeLessThanOrEqual(100 * MiB);
    if (i === 3) rss4 = held(s.pid).rssMiB;
  }
  const s = await status();
  const rss = held(s.pid).rssMiB;
  console.log(JSON.stringify({ vaults: 8, vault_MiB: 48, budget_MiB: 100, daemon_rss_base_MiB: base, daemon_rss_after_4_MiB: rss4, daemon_rss_after_8_MiB: rss }));
  expect(s.vaults.sort()).toEqual(['v6', 'v7']);
  // Flat from the 4th vault to the 8th (measured +0-10 MiB; without eviction +240), and near the
  // budget above where it started: the vaults held, plus an exec's working set (the vault it writes,
  // a save's batch on each side) that the allocator keeps for the next (measured +240; without
  // eviction +485).
  expect(rss - rss4).toBeLessThan(60);
  expect(rss - base).toBeLessThan(100 + 200);
  // v0 was evicted: it loads again, every byte as saved.
  const again = await ok(['--vault', 'v0', 'exec', '--', 'sha256sum', 'data.bin']);
  expect(again.split(' ')[0]).toBe(sums[0]);
  expect((await status()).vaults).toContain('v0');
}, 300_000);

it('a vault unused for the idle time is evicted however small', async () => {
  await stopDaemons(home);
  await ok(['--vault', 'v1', 'exec', '--', 'true'], { VWS_DAEMON_VAULT_IDLE_MS: '1000' });
  expect((await status()).vaults).toEqual(['v1']);
  const deadline = Date.now() + 10_000;
  while ((await status()).vaults.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  expect((await status()).vaults).toEqual([]);
  expect((await ok(['--vault', 'v1', 'exec', '--', 'sh', '-c', 'wc -c < data.bin'])).trim()).toBe(String(48 * MiB));
}, 60_000);
