// The environment of `vws exec`, through the daemon and in-process: each exec gets its own client's
// pass-through variables, never the environment of whoever started the daemon; npm installs from a
// registry behind a private CA (NODE_EXTRA_CA_CERTS, ~/.npmrc by copy) with its cache outside the
// vault; --cwd, --env, a missing command (127, no internal paths) and the change summary line.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, stopDaemons } from './helpers.js';

let home: string;
let work: string; // the clients' home directories, the CA and the package
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  work = mkdtempSync(join(tmpdir(), 'vws-env-'));
  expect((await run(home, ['vault', 'create', 'e'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const vws = (args: string[], env: Record<string, string> = {}) => run(home, ['--vault', 'e', ...args], { env });
const ok = async (args: string[], env?: Record<string, string>) => {
  const r = await vws(args, env);
  expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
};
const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

describe.each([
  ['through the daemon', {}],
  ['in-process', { VWS_DAEMON: '0' }],
] as Array<[string, Record<string, string>]>)('exec environment %s', (_how, mode) => {
  it("gives each exec its own client's variables, never another client's", async () => {
    const show = ['exec', '--', 'sh', '-c', 'echo "ca=$NODE_EXTRA_CA_CERTS npm=$npm_config_registry secret=${TEST_SECRET_TOKEN:-none} home=$HOME"'];
    // Client A (with a secret) goes first: through the daemon, it is the one that starts it.
    const a = await ok(show, { ...mode, TEST_SECRET_TOKEN: 'hunter2', NODE_EXTRA_CA_CERTS: '/a/ca.pem', npm_config_registry: 'https://a.example/' });
    const b = await ok(show, { ...mode, NODE_EXTRA_CA_CERTS: '/b/ca.pem', npm_config_registry: 'https://b.example/' });
    expect(a.stdout).toMatch(/^ca=\/a\/ca\.pem npm=https:\/\/a\.example\/ secret=none home=\/tmp\/vws-mnt-/);
    expect(b.stdout).toMatch(/^ca=\/b\/ca\.pem npm=https:\/\/b\.example\/ secret=none home=\/tmp\/vws-mnt-/);
    if (!mode.VWS_DAEMON) {
      // Nor does the daemon (or its spawner) keep client A's environment where a command could read it.
      const [d] = JSON.parse((await ok(['--json', 'daemon', 'status'])).stdout).daemons as Array<{ pid: number }>;
      for (const pid of [d!.pid, ...childrenOf(d!.pid)]) {
        const env = environOf(pid);
        expect(env.some((v) => v.startsWith('TEST_SECRET_TOKEN=')), `pid ${pid}`).toBe(false);
        expect(env.some((v) => v.startsWith('NODE_EXTRA_CA_CERTS=/a/')), `pid ${pid}`).toBe(false);
      }
    }
  });

  it('--cwd, --env, a missing command and the change summary', async () => {
    const d = mode.VWS_DAEMON ? 'inproc' : 'daemon'; // each mode its own directory in the one vault
    await ok(['exec', '--', 'mkdir', '-p', `${d}/lib`], mode);
    const r = await ok(['exec', '--cwd', `${d}/lib`, '--env', 'GREETING=hi there', '--env=N=2', '--', 'sh', '-c', 'echo "$GREETING $N $(pwd | sed "s|^$HOME||")"; touch made; touch ../old'], mode);
    expect(r.stdout).toBe(`hi there 2 /${d}/lib\n`);
    expect(r.stderr).toBe('vws: 0 changed, 2 added, 0 deleted (--verbose lists them)\n');
    const v = await ok(['exec', '--verbose', '--cwd', d, '--', 'sh', '-c', 'echo x >> old; touch new; rm lib/made'], mode);
    expect(v.stderr).toBe(`vws: 1 changed, 1 added, 1 deleted\n+ /${d}/new\n~ /${d}/old\n- /${d}/lib/made\n`);
    expect(JSON.parse((await ok(['--json', 'exec', '--', 'rm', `${d}/new`], mode)).stdout).changes).toEqual({ created: [], modified: [], deleted: [`/${d}/new`] });
    // Refused before anything runs: exit 2 for a --cwd that is no directory in the vault, a bad --env.
    const noDir = await vws(['exec', '--cwd', 'nowhere', '--', 'true'], mode);
    expect([noDir.code, noDir.stderr]).toEqual([2, "vws: --cwd nowhere: no such directory in vault 'e'\n"]);
    expect((await vws(['exec', '--env', 'novalue', '--', 'true'], mode)).code).toBe(2);
    // A program that does not exist: as a shell says it, with its exit code, and no internal path
    // (with piped stdin the command runs behind a FIFO: its path must not show either).
    for (const input of [undefined, 'piped']) {
      const missing = await run(home, ['--vault', 'e', 'exec', '--', 'no-such-program', '--flag'], { env: mode, input });
      expect([missing.code, missing.stdout, missing.stderr]).toEqual([127, '', 'vws: no-such-program: command not found\n']);
    }
    // A path that is no program: the shell's own words, still without the FIFO's path.
    const notProgram = await run(home, ['--vault', 'e', 'exec', '--cwd', d, '--', './old'], { env: mode, input: 'piped' });
    expect([notProgram.code, notProgram.stderr]).toEqual([126, 'vws: 1: exec: ./old: Permission denied\n']);
  });
});

/** A CA, a certificate for 127.0.0.1 signed by it, and a registry serving one package over HTTPS. */
async function privateRegistry(dir: string): Promise<{ server: Server; url: string; ca: string }> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vws test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  mkdirSync(join(dir, 'pkg/package'), { recursive: true });
  writeFileSync(join(dir, 'pkg/package/package.json'), JSON.stringify({ name: 'vws-tiny', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(dir, 'pkg/package/index.js'), 'module.exports = "tiny";\n');
  execFileSync('tar', ['czf', join(dir, 'tiny.tgz'), '-C', join(dir, 'pkg'), 'package']);
  const tarball = readFileSync(join(dir, 'tiny.tgz'));
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/vws-tiny') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'vws-tiny', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'vws-tiny', version: '1.0.0', main: 'index.js', dist: { tarball: `${url}/vws-tiny/-/vws-tiny-1.0.0.tgz`, integrity } } } }));
    } else if (req.url === '/vws-tiny/-/vws-tiny-1.0.0.tgz') res.end(tarball);
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, ca: join(dir, 'ca.pem') };
}

// As a user's shell runs vws, not under the package manager running this test: pnpm exports
// npm_config_* variables (its registry among them), which exec would rightly pass through to npm.
for (const k of Object.keys(process.env)) if (/^npm_config_/i.test(k)) delete process.env[k];

describe('npm install inside exec', () => {
  it('reaches a registry behind a private CA (NODE_EXTRA_CA_CERTS, ~/.npmrc by copy); its cache stays out of the vault', async () => {
    const dir = mkdtempSync(join(work, 'registry-'));
    const { server, url, ca } = await privateRegistry(dir);
    try {
      // The user's own npm configuration names the registry: it reaches npm by copy.
      const user = join(dir, 'user-home');
      mkdirSync(user);
      writeFileSync(join(user, '.npmrc'), `registry=${url}\nfetch-retries=0\naudit=false\nfund=false\nupdate-notifier=false\n`);
      await ok(['exec', '--', 'sh', '-c', 'mkdir -p proj && echo {} > proj/package.json']);
      const npm = ['exec', '--cwd', 'proj', '--', 'npm', 'install', 'vws-tiny'];
      // Without the CA the registry's certificate is refused (this host's own CA bundle does not have it).
      const refused = await vws(npm, { HOME: user, NODE_EXTRA_CA_CERTS: '' });
      expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/SELF_SIGNED|self[- ]signed|UNABLE_TO_VERIFY|unable to verify/i);
      const installed = await vws(npm, { HOME: user, NODE_EXTRA_CA_CERTS: ca });
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);
      expect((await ok(['cat', '/proj/node_modules/vws-tiny/index.js'])).stdout).toBe('module.exports = "tiny";\n');
      // npm's cache and logs: in $VWS_HOME/cache/e, not in the vault (its root is npm's HOME).
      const root = JSON.parse((await ok(['--json', 'ls', '/'])).stdout).entries.map((e: { name: string }) => e.name);
      expect(root).not.toContain('.npm');
      expect(root).not.toContain('.npmrc'); // the copy lives outside too
      expect(readdirSync(join(home, 'cache/e/npm'))).toContain('_cacache');
      expect(readFileSync(join(home, 'cache/e/npmrc'), 'utf8')).toContain(`registry=${url}`);
      // Opted in: the cache goes where npm puts it, under HOME (the vault).
      await ok(['exec', '--keep-caches', '--cwd', 'proj', '--', 'npm', 'install', 'vws-tiny', '--prefer-online'], { HOME: user, NODE_EXTRA_CA_CERTS: ca });
      expect(JSON.parse((await ok(['--json', 'ls', '/'])).stdout).entries.map((e: { name: string }) => e.name)).toContain('.npm');
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 180_000);
});
