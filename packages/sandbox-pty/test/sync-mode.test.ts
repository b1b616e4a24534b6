// Sync mode's own promises: where the shadow lives and that it goes away (destroy, exit, after a
// crash), background processes, checkpoint restore and reset, and quotas (all or nothing).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { InodeFs } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox, SyncError } from '../src/index.js';
import { Runner } from '../src/runner.js';

const sandboxes: PtySandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
});
async function synced(fs: InodeFilesystem, mountPath = '/'): Promise<PtySandbox> {
  const sb = new PtySandbox({ syncMode: true });
  sandboxes.push(sb);
  await sb.mount(fs, mountPath);
  expect(sb.mountModes()).toEqual({ [mountPath]: 'sync' });
  return sb;
}
const until = async (cond: () => boolean, ms = 3000) => {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

describe('the shadow directory', () => {
  it('is a 0700 directory in /dev/shm, kept between commands, removed by destroy', async () => {
    const fs = new InodeFilesystem({ files: { '/a.txt': 'a' } });
    const sb = await synced(fs);
    const dir = sb.workingDirectory!;
    expect(dir.startsWith('/dev/shm/vws-sync-')).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const ino = statSync(join(dir, 'a.txt')).ino;
    await sb.executeCommand('echo b > b.txt');
    // Kept: the untouched file is the same host file as before the command.
    expect(statSync(join(dir, 'a.txt')).ino).toBe(ino);
    await sb.destroy();
    expect(existsSync(dir)).toBe(false);
  });

  it('goes at process exit without destroy, and one left by a crashed process is cleared by the next', () => {
    // A dead process's shadow: the pid of a process that has exited.
    const dead = spawnSync('true').pid!;
    const stale = `/dev/shm/vws-sync-${dead}-crashed`;
    mkdirSync(join(stale, 'sub'), { recursive: true });
    writeFileSync(join(stale, 'sub/f'), 'left behind');
    const script = `
      import { InodeFilesystem } from '@vws/filesystem-inode';
      import { PtySandbox } from './src/index.ts';
      const sb = new PtySandbox({ syncMode: true });
      await sb.mount(new InodeFilesystem({ files: { '/x': 'x' } }), '/');
      await sb.executeCommand('true');
      console.log(sb.workingDirectory);
      process.exit(0); // no destroy
    `;
    const out = execFileSync(process.execPath, ['--conditions=@vws/source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' });
    const dir = out.trim().split('\n').at(-1)!;
    expect(dir).toMatch(/^\/dev\/shm\/vws-sync-\d+-/);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(stale)).toBe(false);
  });

  it('goes when the process is ended by SIGTERM, which still ends it', async () => {
    const script = `
      import { InodeFilesystem } from '@vws/filesystem-inode';
      import { PtySandbox } from './src/index.ts';
      const sb = new PtySandbox({ syncMode: true });
      await sb.mount(new InodeFilesystem({ files: { '/x': 'x' } }), '/');
      console.log(sb.workingDirectory);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--conditions=@vws/source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    const dir = await new Promise<string>((resolve) => child.stdout.on('data', (d) => resolve(String(d).trim())));
    expect(existsSync(join(dir, 'x'))).toBe(true);
    child.kill('SIGTERM');
    const [, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    expect(signal).toBe('SIGTERM');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('background processes', () => {
  it('their changes reach the engine when they exit, and on sandbox.sync() while they run', async () => {
    const fs = new InodeFilesystem();
    const sb = await synced(fs);
    const p = await sb.processes.spawn('echo early > early.txt; read line; echo "$line" > late.txt');
    expect(await until(() => existsSync(join(sb.workingDirectory!, 'early.txt')))).toBe(true);
    expect(fs.engine.exists('/early.txt')).toBe(false); // not yet synced
    await sb.sync();
    expect(fs.engine.readFile('/early.txt', 'utf8')).toBe('early\n');
    await p.sendStdin('bye\n');
    await p.wait();
    // No command and no sync() call: the exit brings it in.
    expect(await until(() => fs.engine.exists('/late.txt'))).toBe(true);
    expect(fs.engine.readFile('/late.txt', 'utf8')).toBe('bye\n');
  });

  it('see API writes made before they start', async () => {
    const fs = new InodeFilesystem();
    const sb = await synced(fs);
    await fs.writeFile('in.txt', 'from the api');
    const p = await sb.processes.spawn('cat in.txt');
    expect((await p.wait()).stdout).toBe('from the api');
  });
});

describe('checkpoint restore, reset and clone', () => {
  it('make the shadow equal to the engine before the next command', async () => {
    const fs = new InodeFilesystem({ files: { '/v.txt': 'one', '/keep/k.txt': 'k' } });
    const sb = await synced(fs);
    fs.checkpoint('start');
    await sb.executeCommand('echo two > v.txt; mkdir -p new/deep; echo n > new/deep/n.txt; rm -r keep; ln -s v.txt l');
    expect(fs.engine.exists('/new/deep/n.txt')).toBe(true);
    fs.restore('start');
    const r = await sb.executeCommand('cat v.txt; ls -A1; cat keep/k.txt');
    expect(r.stdout).toBe('onekeep\nv.txt\nk');
    // reset to an unrelated state
    const other = new InodeFs();
    other.writeFile('/only.txt', 'other');
    fs.engine.reset(other);
    expect((await sb.executeCommand('ls -A1; cat only.txt')).stdout).toBe('only.txt\nother');
  });
});

describe('quotas', () => {
  it('a command that writes past the quota fails its sync clearly; the engine is as before the command, the shadow equals it', async () => {
    const fs = new InodeFilesystem({ quota: { bytes: 100_000 }, files: { '/small.txt': 'small' } });
    const sb = await synced(fs);
    await sb.executeCommand('echo ok > ok.txt');
    const before = fs.engine.fingerprint();
    const err = await sb.executeCommand('echo more >> small.txt; head -c 200000 /dev/zero > big.bin; mkdir d').catch((e) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(err.code).toBe('ENOSPC');
    expect(err.message).toMatch(/wrote past the workspace quota.*as it was before the command/);
    expect(fs.engine.fingerprint()).toBe(before);
    const dir = sb.workingDirectory!;
    expect(existsSync(join(dir, 'big.bin'))).toBe(false);
    expect(readFileSync(join(dir, 'small.txt'), 'utf8')).toBe('small');
    // and the sandbox goes on
    const r = await sb.executeCommand('ls -1; echo fine > fine.txt');
    expect(r.stdout).toBe('ok.txt\nsmall.txt\n');
    expect(fs.engine.readFile('/fine.txt', 'utf8')).toBe('fine\n');
  });

  it("a background process's failed sync (it exited past the quota) is thrown by the next sync()", async () => {
    const fs = new InodeFilesystem({ quota: { bytes: 50_000 } });
    const sb = await synced(fs);
    const before = fs.engine.fingerprint();
    const p = await sb.processes.spawn('head -c 100000 /dev/zero > big.bin');
    await p.wait();
    // The exit's sync fails, puts the engine back and rewrites the shadow from it.
    expect(await until(() => !existsSync(join(sb.workingDirectory!, 'big.bin')))).toBe(true);
    await expect(sb.sync()).rejects.toThrow(/wrote past the workspace quota/);
    expect(fs.engine.fingerprint()).toBe(before);
    await expect(sb.sync()).resolves.toBeUndefined();
  });
});

describe.each(['watch', 'walk'] as const)('links a command makes (%s)', (scan) => {
  const old = process.env.VWS_SYNC_SCAN;
  afterEach(() => (old === undefined ? delete process.env.VWS_SYNC_SCAN : (process.env.VWS_SYNC_SCAN = old)));

  it('symlinks reach the engine: relative, absolute, dangling, in a new directory', async () => {
    process.env.VWS_SYNC_SCAN = scan;
    const fs = new InodeFilesystem({ files: { '/a.txt': 'A' } });
    const sb = await synced(fs, '/ws');
    const r = await sb.executeCommand('cd ws && ln -s a.txt rel && ln -s /etc/passwd abs && ln -s nowhere dangling && mkdir d && ln -s ../a.txt d/up');
    expect(r.exitCode).toBe(0);
    expect(r.changes.created.sort()).toEqual(['/ws/abs', '/ws/d', '/ws/d/up', '/ws/dangling', '/ws/rel']);
    for (const [p, target] of [['/rel', 'a.txt'], ['/abs', '/etc/passwd'], ['/dangling', 'nowhere'], ['/d/up', '../a.txt']] as const) {
      expect(fs.engine.lstat(p).kind).toBe('symlink');
      expect(fs.engine.readlink(p)).toBe(target);
    }
    // And through the runner (the CLI's exec without FUSE uses the same sync).
    const engine = new InodeFs();
    const runner = new Runner({ spawner: false, warm: false });
    try {
      const rr = await runner.run(engine, ['sh', '-c', 'ln -s x y && ln -s /etc z'], {});
      expect(rr.changes.created.sort()).toEqual(['/y', '/z']);
      expect([engine.readlink('/y'), engine.readlink('/z')]).toEqual(['x', '/etc']);
    } finally {
      runner.stop();
    }
  });

  it("a hard link to a host file does not bring the host file's content into the engine; links inside the shadow stay links", async () => {
    process.env.VWS_SYNC_SCAN = scan;
    // On the shadow's own filesystem (/dev/shm), so that the link can be made at all.
    const host = `/dev/shm/vws-host-secret-${randomBytes(6).toString('hex')}`;
    writeFileSync(host, 'HOST-SECRET');
    try {
      const fs = new InodeFilesystem({ files: { '/a.txt': 'A' } });
      const sb = await synced(fs);
      const r = await sb.executeCommand(`ln ${host} stolen && cat stolen && echo b > b && ln b b2 && ln a.txt a2`);
      expect(r.stdout).toBe('HOST-SECRET');
      expect(r.changes.created.sort()).toEqual(['/a2', '/b', '/b2']);
      expect(fs.engine.exists('/stolen')).toBe(false);
      // Links made inside the shadow are one inode in the engine too.
      expect(fs.engine.inoOf('/b', false)).toBe(fs.engine.inoOf('/b2', false));
      expect(fs.engine.inoOf('/a.txt', false)).toBe(fs.engine.inoOf('/a2', false));
      expect(new TextDecoder().decode(fs.engine.readFile('/b2'))).toBe('b\n');
      // A later command still sees its own link on the host, and the engine stays without it.
      await sb.executeCommand('echo more >> b2');
      expect(fs.engine.exists('/stolen')).toBe(false);
      expect(new TextDecoder().decode(fs.engine.readFile('/b'))).toBe('b\nmore\n');
    } finally {
      rmSync(host, { force: true });
    }
  });
});
