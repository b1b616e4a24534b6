// Soak of the exec daemon: N execs (default 500) through one daemon, each making, rewriting and
// deleting files with piped stdin; the daemon's descriptors, children and resident memory measured
// after 50 and after N. One JSON line; ratios against the 50-exec point of the same run.
// Run: pnpm --filter @vws/cli exec tsx --conditions=@vws/source bench/daemon-soak.ts   (VWS_SOAK_EXECS=500)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../test/helpers.js';
import { held } from '../test/daemon-resources.js';

const N = Number(process.env.VWS_SOAK_EXECS ?? 500);
const home = mkdtempSync(join(tmpdir(), 'vws-soak-home-'));
const vws = (args: string[], input = '') => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: home, env: { ...process.env, VWS_HOME: home }, input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vws ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};
try {
  vws(['vault', 'create', 'soak']);
  // VWS_SOAK_CMD: another command line for each exec (`true`: nothing changes, nothing is saved).
  const custom = process.env.VWS_SOAK_CMD;
  const exec = (i: number) => vws(['--vault', 'soak', 'exec', '--', 'sh', '-c', custom ?? `cat > in; rm -rf d; mkdir d; head -c 100000 /dev/urandom > d/blob${i}; echo ${i} >> log`], `input ${i}`);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) exec(i);
  const pid = (JSON.parse(vws(['--json', 'daemon', 'status'])).daemons as Array<{ pid: number }>)[0]!.pid;
  for (let i = 10; i < 50; i++) exec(i);
  const memory = () => {
    const d = (JSON.parse(vws(['--json', 'daemon', 'status'])).daemons as Array<{ pid: number; heapBytes: number; externalBytes: number }>).find((x) => x.pid === pid)!;
    return { heapMiB: Math.round(d.heapBytes / 2 ** 20), externalMiB: Math.round(d.externalBytes / 2 ** 20) };
  };
  const at50 = { ...held(pid), ...memory() };
  const rssEvery100: number[] = [];
  for (let i = 50; i < N; i++) {
    exec(i);
    if ((i + 1) % 100 === 0) rssEvery100.push(held(pid).rssMiB);
  }
  const atN = { ...held(pid), ...memory() };
  const stats = JSON.parse(vws(['--json', '--vault', 'soak', 'stats']));
  console.log(
    JSON.stringify({
      bench: 'daemon_soak',
      execs: N,
      at50,
      [`at${N}`]: atN,
      fdRatio: atN.fds / at50.fds,
      rssRatio: Number((atN.rssMiB / at50.rssMiB).toFixed(3)),
      rssEvery100,
      vault: { inodes: stats.inodes, bytes: stats.bytes },
      msPerExec: Math.round((performance.now() - t0) / N),
    }),
  );
} finally {
  spawnSync(process.execPath, [bin, 'daemon', 'stop'], { env: { ...process.env, VWS_HOME: home } });
  rmSync(home, { recursive: true, force: true });
}
