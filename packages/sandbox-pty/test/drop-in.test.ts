// What a Mastra user relies on when swapping LocalSandbox for PtySandbox: stdin (end of file for
// one-shot commands, bytes unchanged and closeStdin for spawned ones), clean output for the model,
// Mastra's options and lifecycle, named checkpoints, mounts that refuse what they cannot do, and a
// read-only InodeFilesystem that commands cannot write.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mastra } from '@mastra/core';
import { Workspace } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { fuseMounts } from '@vws/fuse';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function make(options: ConstructorParameters<typeof PtySandbox>[0] = {}): PtySandbox {
  const sb = new PtySandbox(options);
  cleanups.push(() => sb._destroy());
  return sb;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vws-dropin-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('stdin', () => {
  it('one-shot commands read end of file at once', async () => {
    const sb = make();
    const r = await sb.executeCommand('cat; echo returned', [], { timeout: 5000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'returned\n', timedOut: false });
    const py = await sb.executeCommand('python3 -c "input()"', [], { timeout: 5000 });
    expect(py.timedOut).toBe(false);
    expect(py.exitCode).toBe(1);
    expect(py.stderr).toContain('EOFError');
  });

  it('spawned processes get the bytes sent unchanged, and closeStdin ends the input without a trailing newline', async () => {
    const sb = make();
    const wc = await sb.processes.spawn('wc -c');
    await wc.sendStdin('abc');
    await wc.closeStdin();
    expect((await wc.wait()).stdout.trim()).toBe('3');
    const od = await sb.processes.spawn('od -An -c');
    await od.sendStdin('A\r\nB\u0004\u0003é');
    await od.closeStdin();
    expect((await od.wait()).stdout.replace(/\s+/g, ' ').trim()).toBe('A \\r \\n B 004 003 303 251');
  });

  it("stdinMode 'ignore' (background commands of execute_command): end of file at once, and nothing to write to", async () => {
    const sb = make();
    const p = await sb.processes.spawn('sleep 0.3; cat; echo eof', { stdinMode: 'ignore' });
    await expect(p.sendStdin('x')).rejects.toThrow(/does not have stdin available/);
    expect((await p.wait()).stdout).toBe('eof\n');
  });

  it("stdin: 'terminal' keeps the terminal on stdin for programs that need one", async () => {
    const sb = make({ stdin: 'terminal' });
    const p = await sb.processes.spawn('test -t 0 && echo tty; read -r line; echo "got $line"');
    await p.sendStdin('hi\n');
    expect((await p.wait()).stdout).toBe('tty\ngot hi\n');
  });

  it("stdin: 'terminal': closeStdin ends the input after a partial line too", async () => {
    const sb = make({ stdin: 'terminal' });
    const wc = await sb.processes.spawn('wc -c');
    await wc.sendStdin('abc');
    await wc.closeStdin();
    expect((await wc.wait()).stdout.trim()).toBe('3');
  });
});

describe('output the model reads', () => {
  it('has no escape sequences and no carriage-return progress frames; git is colourless by default', async () => {
    const sb = make();
    const r = await sb.executeCommand("printf '\\033[31mred\\033[0m \\033]0;title\\007done\\n10%%\\r50%%\\r100%%\\n'");
    expect(r.stdout).toBe('red done\n100%\n');
    const git = await sb.executeCommand('git init -q . && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m one && git log --oneline --decorate');
    expect(git.stdout).toMatch(/^[0-9a-f]{7,} \(HEAD -> \w+\) one\n$/);
    // The raw stream still carries what the program wrote.
    let raw = '';
    await sb.executeCommand("printf '\\033[1mB\\033[0m'", [], { onStdout: (d) => (raw += d) });
    expect(raw).toBe('\u001b[1mB\u001b[0m');
  });
});

describe('processes', () => {
  it('a reader made after spawn() returns still gets output that came before it', async () => {
    const sb = make();
    const h = await sb.processes.spawn('echo early');
    await h.wait();
    const chunks: string[] = [];
    h.reader.on('data', (c: Buffer) => chunks.push(c.toString()));
    await new Promise((r) => setTimeout(r, 20));
    expect(chunks.join('')).toBe('early\n');
  });

  it('an abort right at spawn ends the process in well under a second', async () => {
    const sb = make();
    await sb.start();
    const ctrl = new AbortController();
    ctrl.abort();
    const t0 = Date.now();
    const h = await sb.processes.spawn('sleep 30', { abortSignal: ctrl.signal });
    await h.wait().catch(() => undefined);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(h.exitCode).toBeDefined();
  });
});

describe("Mastra's options and lifecycle", () => {
  it('accepts onStart/onStop/onDestroy, instructions (string or function) and calls the hooks', async () => {
    const calls: string[] = [];
    const sb = make({ onStart: () => void calls.push('start'), onStop: () => void calls.push('stop'), onDestroy: () => void calls.push('destroy'), instructions: ({ defaultInstructions }) => `${defaultInstructions} Be brief.` });
    await sb._start();
    expect(sb.getInstructions()).toMatch(/Commands run in bash.*Be brief\.$/);
    await sb._stop();
    await sb._destroy();
    expect(calls).toEqual(['start', 'stop', 'destroy']);
    expect(make({ instructions: '' }).getInstructions()).toBe('');
    expect(() => new PtySandbox({ checkpointName: '../x' })).toThrow(/checkpointName/);
  });

  it("new Mastra({ workspace }).shutdown() unmounts; a later start mounts again", async () => {
    const filesystem = new InodeFilesystem({ files: { '/f.txt': 'F' } });
    const sb = make();
    const workspace = new Workspace({ filesystem, sandbox: sb });
    const mastra = new Mastra({ workspace } as never);
    await workspace.init();
    await sb.mount(filesystem, '/');
    const mine = () => fuseMounts().filter((m) => m.path === sb.workingDirectory);
    expect(mine()).toHaveLength(1);
    await mastra.shutdown();
    expect(mine()).toEqual([]);
    await sb._start();
    expect((await sb.executeCommand('cat f.txt')).stdout).toBe('F');
  });

  it('a sandbox that was never started leaves no directory behind', async () => {
    const sb = new PtySandbox();
    const dir = sb.workingDirectory!;
    await sb._destroy();
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmpdir()).filter((n) => join(tmpdir(), n) === dir)).toEqual([]);
    // Mounting starts it, so Mastra's destroy then cleans up (it skips a sandbox still 'pending').
    const mounted = new PtySandbox();
    await mounted.mount(new InodeFilesystem(), '/ws');
    expect(mounted.status).toBe('running');
    await mounted._destroy();
    expect(existsSync(mounted.workingDirectory!)).toBe(false);
  });

  it('getInfo gives what LocalSandbox gives (resources, platform, isolation) and the mounts', async () => {
    const sb = make();
    const info = await sb.getInfo();
    expect(info.resources?.cpuCores).toBeGreaterThan(0);
    expect(info.resources?.memoryMB).toBeGreaterThan(0);
    expect(info.metadata).toMatchObject({ platform: 'linux', nodeVersion: process.version, isolation: 'none' });
  });

  it('instructions say which filesystem commands see, and only when one is mounted', async () => {
    const sb = make();
    expect(sb.getInstructions()).not.toMatch(/Mounted/);
    await sb.mount(new InodeFilesystem(), '/ws');
    expect(sb.getInstructions()).toContain(`/ws is at "${join(sb.workingDirectory!, 'ws')}"`);
  });
});

describe('mounts', () => {
  it('refuses a filesystem it cannot serve, a non-empty target and a file; removes the mount point it made', async () => {
    const sb = make();
    await sb.start();
    const bare = { id: 'bare', name: 'Bare', provider: 'bare', status: 'ready' } as never;
    const r = await sb.mount(bare, '/bare');
    expect(r.success).toBe(false);
    expect(r.error).toMatch(/has no readdir/);
    expect((await sb.executeCommand('echo ok')).stdout).toBe('ok\n');
    await mkdir(join(sb.workingDirectory!, 'full'));
    await writeFile(join(sb.workingDirectory!, 'full/keep.txt'), 'k');
    expect(await sb.mount(new InodeFilesystem(), '/full')).toMatchObject({ success: false, error: expect.stringContaining('not empty') });
    await writeFile(join(sb.workingDirectory!, 'afile'), 'f');
    expect(await sb.mount(new InodeFilesystem(), '/afile')).toMatchObject({ success: false, error: expect.stringContaining('regular file') });
    expect(await sb.mount(new InodeFilesystem(), '/fresh')).toMatchObject({ success: true });
    await sb.unmount('/fresh');
    expect(await readdir(sb.workingDirectory!)).not.toContain('fresh');
  });

  it('a read-only InodeFilesystem is read-only for commands too (EROFS)', async () => {
    const fs = new InodeFilesystem({ readOnly: true, files: { '/r.txt': 'keep' } });
    const sb = make();
    await sb.mount(fs, '/ro');
    const r = await sb.executeCommand('cat ro/r.txt && touch ro/new.txt');
    expect(r.stdout).toBe('keep');
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(fs.engine.exists('/new.txt')).toBe(false);
  });
});

describe('named checkpoints', () => {
  it('snapshot() saves under checkpointName to checkpointsDirectory; a new sandbox seeds its empty mount from it; seedCheckpointName is the fallback', async () => {
    const checkpointsDirectory = tempDir();
    const a = make({ checkpointName: 'base', checkpointsDirectory });
    const fsA = new InodeFilesystem({ files: { '/state.txt': 'v1' } });
    await a.mount(fsA, '/w');
    await a.executeCommand('echo from-a > w/made.txt');
    await a.snapshot();
    expect(readdirSync(checkpointsDirectory)).toEqual(['base.vws-checkpoint']);

    // Another sandbox (as another process would) starts from the saved checkpoint.
    const b = make({ checkpointName: 'session-1', seedCheckpointName: 'base', checkpointsDirectory });
    await b._start();
    const fsB = new InodeFilesystem();
    await b.mount(fsB, '/w');
    expect((await b.executeCommand('cat w/state.txt w/made.txt')).stdout).toBe('v1from-a\n');
    // A filesystem that already has files is not overwritten.
    const c = make({ checkpointName: 'base', checkpointsDirectory });
    await c._start();
    const fsC = new InodeFilesystem({ files: { '/own.txt': 'mine' } });
    await c.mount(fsC, '/w');
    expect(fsC.engine.readdir('/')).toEqual(['own.txt']);
  });

  it('clone({ checkpointName }) of a saved name gives its state; of an unknown name an empty tree', async () => {
    const checkpointsDirectory = tempDir();
    const sb = make({ checkpointName: 'cp', checkpointsDirectory });
    const fs = new InodeFilesystem({ files: { '/a.txt': 'A' } });
    await sb.mount(fs, '/');
    await sb.snapshot();
    await fs.writeFile('a.txt', 'changed');
    const twin = sb.clone({ checkpointName: 'cp' }) as PtySandbox;
    cleanups.push(() => twin._destroy());
    expect((await twin.executeCommand('cat a.txt')).stdout).toBe('A');
    const empty = sb.clone({ checkpointName: 'other' }) as PtySandbox;
    cleanups.push(() => empty._destroy());
    expect((await empty.executeCommand('ls -A')).stdout).toBe('');
  });
});

describe("LocalSandbox's isolation settings onto bubblewrap", () => {
  it('nativeSandbox: allowNetwork keeps the host network, readOnlyPaths and readWritePaths are bound as asked; a spawned process reads its piped stdin', async () => {
    const outside = tempDir();
    const sb = make({ isolation: 'bwrap', nativeSandbox: { allowNetwork: true, readOnlyPaths: ['locked'], readWritePaths: [outside] } });
    await sb.start();
    await mkdir(join(sb.workingDirectory!, 'locked'));
    const r = await sb.executeCommand(`cat /proc/net/dev | wc -l; touch locked/x; echo rc=$?; echo out > ${outside}/w.txt && cat ${outside}/w.txt; touch /usr/vws-nope; echo usr=$?`);
    // The host's interfaces besides lo (under --unshare-net there are 2 header lines + lo).
    expect(Number(r.stdout.split('\n')[0])).toBeGreaterThan(3);
    expect(r.stdout).toContain('rc=1\nout\nusr=1\n');
    expect((await sb.getInfo()).metadata).toMatchObject({ isolation: 'bwrap', isolationConfig: { allowNetwork: true, readOnlyPaths: ['locked'], readWritePaths: [outside] } });
    const p = await sb.processes.spawn('wc -c');
    await p.sendStdin('four');
    await p.closeStdin();
    expect((await p.wait()).stdout.trim()).toBe('4');
  });
});
