// Mounts: an InodeFilesystem over FUSE with real tools, sync mode for Mastra's LocalFilesystem, a real
// Mastra Workspace with mounts, mixing with LocalSandbox, and snapshot/clone.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFilesystem, LocalSandbox, Workspace } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { fuseMounts, mount } from '@vws/fuse';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const madeDirs: string[] = [];
/** A sandbox whose InodeFilesystem mounts are served over FUSE, or in sync mode (a shadow directory). */
function sandbox(mode: 'fuse' | 'sync' | 'auto' = 'auto', options: ConstructorParameters<typeof PtySandbox>[0] = {}): PtySandbox {
  const sb = new PtySandbox({ ...options, ...(mode === 'sync' ? { syncMode: true } : {}) });
  madeDirs.push(sb.workingDirectory!);
  cleanups.push(() => sb.destroy());
  return sb;
}
const GIT = 'git -c user.name=vws -c user.email=vws@example.com -c init.defaultBranch=main';

// The change report, real tools, checkpoints and clones: the same assertions over FUSE and in sync mode.
describe.each(['fuse', 'sync'] as const)('%s', (mode) => {
  describe('an InodeFilesystem mounted', () => {
    it('real tools run on it and every change is seen by the API at once, and the reverse', async () => {
      const fs = new InodeFilesystem();
      const sb = sandbox(mode);
      expect(await sb.mount(fs, '/')).toEqual({ success: true, mountPath: '/' });
      expect(sb.mountModes()).toEqual({ '/': mode });

      await fs.writeFile('app/main.py', 'import sys\nprint("py", sys.argv[1])\n');
      expect((await sb.executeCommand('python3', ['app/main.py', 'ok'])).stdout).toBe('py ok\n');

      const node = await sb.executeCommand(`node -e "require('fs').writeFileSync('from-node.json', JSON.stringify({v: 1}))"`);
      expect(node.exitCode).toBe(0);
      expect(JSON.parse(String(await fs.readFile('from-node.json', { encoding: 'utf-8' })))).toEqual({ v: 1 });
      expect(node.changes.created).toEqual(['/from-node.json']);

      const git = await sb.executeCommand(`${GIT} init -q . && ${GIT} add -A && ${GIT} commit -qm first && ${GIT} checkout -qb feature && echo more >> app/main.py && ${GIT} commit -qam second && ${GIT} checkout -q main && ${GIT} log --oneline --all | wc -l`);
      expect(git.stderr).toBe('');
      expect(git.stdout.trim()).toBe('2');
      expect(await fs.readFile('app/main.py', { encoding: 'utf-8' })).not.toContain('more');
      expect(fs.engine.readdir('/.git/refs/heads')).toEqual(['feature', 'main']);

      const tools = await sb.executeCommand('mkdir -p t && echo hi > t/a && tar cf t.tar t && rm -rf t && tar xf t.tar && ln -s t/a link && printf "#!/bin/sh\\necho script-ran\\n" > run.sh && chmod +x run.sh && ./run.sh && cat link');
      expect(tools.stdout).toBe('script-ran\nhi\n');
      expect(fs.engine.readlink('/link')).toBe('t/a');
      expect(fs.engine.stat('/run.sh').mode & 0o111).toBe(0o111);
      expect(tools.changes.created).toEqual(expect.arrayContaining(['/link', '/run.sh', '/t.tar']));
    });

    it('the change report lists created, modified and deleted files', async () => {
      const fs = new InodeFilesystem({ files: { '/keep.txt': 'k', '/edit.txt': 'e', '/gone.txt': 'g' } });
      const sb = sandbox(mode);
      await sb.mount(fs, '/');
      const r = await sb.executeCommand('echo new > new.txt; echo more >> edit.txt; rm gone.txt');
      expect(r.changes).toEqual({ created: ['/new.txt'], modified: ['/edit.txt'], deleted: ['/gone.txt'] });
    });

    it('checkpoint-then-run: the policy checkpoints the mounted filesystem first', async () => {
      const fs = new InodeFilesystem({ files: { '/data.txt': 'precious' } });
      const sb = sandbox(mode, { policy: ({ command }) => (command.startsWith('rm') ? 'checkpoint' : 'allow') });
      await sb.mount(fs, '/');
      const r = await sb.executeCommand('rm data.txt');
      expect(r.checkpoint).toBeDefined();
      expect(await fs.exists('data.txt')).toBe(false);
      fs.restore(r.checkpoint!);
      expect(await fs.readFile('data.txt', { encoding: 'utf-8' })).toBe('precious');
    });

    it('commands and background processes see the API writes made just before them, through the kernel caches', async () => {
      const fs = new InodeFilesystem();
      const sb = sandbox(mode);
      await sb.mount(fs, '/');
      for (let i = 0; i < 10; i++) {
        // The kernel has the file, its attributes and its pages cached from the previous round.
        await fs.writeFile('note.txt', `round ${i} `.repeat(i + 1));
        expect((await sb.executeCommand('cat note.txt')).stdout).toBe(`round ${i} `.repeat(i + 1));
        await fs.writeFile('note.txt', `background ${i}`);
        const p = await sb.processes.spawn('cat note.txt; ls');
        expect((await p.wait()).stdout).toBe(`background ${i}note.txt\n`);
      }
    });

    it('after destroy no mount and no child remains, even with a command still running', async () => {
      const fs = new InodeFilesystem();
      const sb = new PtySandbox({ syncMode: mode === 'sync' });
      madeDirs.push(sb.workingDirectory!);
      await sb.mount(fs, '/');
      const dir = sb.workingDirectory!;
      const running = sb.executeCommand('sleep 60');
      await new Promise((r) => setTimeout(r, 200));
      await sb.destroy();
      const r = await running;
      expect(r.success).toBe(false);
      expect(fuseMounts().some((m) => m.path === dir)).toBe(false);
      expect(existsSync(dir)).toBe(false);
    });
  });

  describe('snapshot and clone', () => {
    it('snapshot() then clone({ checkpointName }) gives a sandbox whose workspace equals the checkpoint; later writes stay apart', async () => {
      const fs = new InodeFilesystem({ files: { '/state.txt': 'v1' } });
      const sb = sandbox(mode);
      await sb.mount(fs, '/');
      expect(sb.supportsCheckpoints).toBe(true);
      await sb.snapshot();
      const name = sb.latestSnapshot!;
      const at = fs.checkpointState(name).fingerprint();
      await sb.executeCommand('echo v2 > state.txt');
      const twin = sb.clone({ checkpointName: name }) as PtySandbox;
      cleanups.push(() => twin.destroy());
      expect((await twin.executeCommand('cat state.txt')).stdout).toBe('v1');
      expect((twin.filesystemAt('/') as InodeFilesystem).engine.fingerprint()).toBe(at);
      await twin.executeCommand('echo twin > state.txt');
      expect(await fs.readFile('state.txt', { encoding: 'utf-8' })).toBe('v2\n');
      // (Never statSync a path this process serves over FUSE: that deadlocks. Async calls are fine.)
      expect((await stat(twin.workingDirectory!)).isDirectory()).toBe(true);
      expect((await twin.executeCommand('cat state.txt')).stdout).toBe('twin\n');
    });
  });
});

describe('sync mode', () => {
  it("Mastra's LocalFilesystem with PtySandbox: export, run, sync back with modes", async () => {
    const base = mkdtempSync(join(tmpdir(), 'vws-local-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const local = new LocalFilesystem({ basePath: base });
    await local.writeFile('in.txt', 'from local');
    await local.writeFile('old.txt', 'bye');
    const sb = sandbox();
    await sb.mount(local, '/data');
    expect(sb.mountModes()).toEqual({ '/data': 'sync' });
    const r = await sb.executeCommand('cd data && cat in.txt && printf "#!/bin/sh\\necho x\\n" > tool.sh && chmod 755 tool.sh && rm old.txt && mkdir -p d && echo deep > d/e.txt');
    expect(r.stdout).toBe('from local');
    expect(r.changes).toEqual({ created: ['/data/d/e.txt', '/data/tool.sh'], modified: [], deleted: ['/data/old.txt'] });
    expect(readFileSync(join(base, 'd/e.txt'), 'utf8')).toBe('deep\n');
    expect(await local.exists('old.txt')).toBe(false);
    expect(await local.readFile('tool.sh', { encoding: 'utf-8' })).toContain('echo x');
  });

  it("copy sync carries back neither symlinks (a WorkspaceFilesystem has none) nor a host file's content through a hard link, and reports neither", async () => {
    const base = mkdtempSync(join(tmpdir(), 'vws-local-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    // On the export's own filesystem (the temp dir), so that the link can be made at all.
    const host = join(tmpdir(), `vws-host-secret-${process.pid}-${Date.now()}`);
    writeFileSync(host, 'HOST-SECRET');
    cleanups.push(() => rmSync(host, { force: true }));
    const local = new LocalFilesystem({ basePath: base });
    await local.writeFile('in.txt', 'from local');
    const sb = sandbox();
    await sb.mount(local, '/data');
    const r = await sb.executeCommand(`cd data && ln -s in.txt link && ln ${host} stolen && cat stolen && echo n > n.txt && ln n.txt n2.txt`);
    expect(r.stdout).toBe('HOST-SECRET');
    expect(r.changes).toEqual({ created: ['/data/n.txt', '/data/n2.txt'], modified: [], deleted: [] });
    expect(readdirSync(base).sort()).toEqual(['in.txt', 'n.txt', 'n2.txt']);
  });

  it('an InodeFilesystem in sync mode keeps modes through the round trip', async () => {
    const fs = new InodeFilesystem({ files: { '/s.sh': 'echo hi\n' } });
    fs.engine.chmod('/s.sh', 0o700);
    const sb = sandbox('sync');
    await sb.mount(fs, '/w');
    const r = await sb.executeCommand('cd w && stat -c %a s.sh && chmod 750 s.sh');
    expect(r.stdout.trim()).toBe('700');
    expect(fs.engine.stat('/s.sh').mode & 0o777).toBe(0o750);
  });
});

describe('with Mastra Workspace and LocalSandbox', () => {
  it("new Workspace({ mounts: { '/workspace': inodeFs }, sandbox: ptySandbox }) mounts through PtySandbox.mount", async () => {
    const fs = new InodeFilesystem({ files: { '/hello.txt': 'hello from the workspace' } });
    const sb = new PtySandbox();
    madeDirs.push(sb.workingDirectory!);
    const ws = new Workspace({ mounts: { '/workspace': fs }, sandbox: sb });
    cleanups.push(() => ws.destroy());
    await ws.init();
    const r = await sb.executeCommand('cat workspace/hello.txt');
    expect(r.stdout).toBe('hello from the workspace');
    expect(sb.getInfo().mounts).toEqual([{ path: '/workspace', filesystem: 'vws-inode' }]);
    expect(sb.mounts?.get('/workspace')?.state).toBe('mounted');
  });

  it("an InodeFilesystem with Mastra's LocalSandbox, through a FUSE-mounted directory", async () => {
    const fs = new InodeFilesystem({ files: { '/x.txt': 'via fuse' } });
    const root = mkdtempSync(join(tmpdir(), 'vws-mix-'));
    const m = await mount(fs.engine, join(root, 'mnt'));
    cleanups.push(async () => {
      await m.unmount();
      rmSync(root, { recursive: true, force: true });
    });
    // LocalSandbox spawns with child_process in this (the serving) process: its cwd stays outside the
    // mount and the command changes into it (see @vws/fuse's README on deadlocks).
    const local = new LocalSandbox({ workingDirectory: root });
    cleanups.push(() => local.destroy());
    const r = await local.executeCommand!('cd mnt && cat x.txt && echo back > y.txt');
    expect(r.stdout).toBe('via fuse');
    expect(await fs.readFile('y.txt', { encoding: 'utf-8' })).toBe('back\n');
  });
});

it('leaves no FUSE mount of its own after the tests above', async () => {
  // Only this file's sandboxes are checked (other processes on the machine may have mounts).
  await new Promise((r) => spawn('true').on('close', r));
  const mine = new Set(madeDirs);
  expect(madeDirs.length).toBeGreaterThan(5);
  expect(fuseMounts().filter((m) => [...mine].some((d) => m.path === d || m.path.startsWith(`${d}/`)))).toEqual([]);
});
