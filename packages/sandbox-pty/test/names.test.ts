// Names are bytes for commands too: over FUSE and in sync mode (the shadow directory), a command's
// non-UTF-8 names reach the engine as distinct names, and the engine's reach the command as the
// exact bytes (names, symlink targets, directories the host watch follows).

import { InodeFilesystem } from '@vws/filesystem-inode';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';

const sandboxes: PtySandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
});

describe.each(['fuse', 'sync'] as const)('%s', (mode) => {
  it("printf one > $'\\xff'; printf two > $'\\xfe' makes two files, and API byte names reach commands as bytes", async () => {
    const fs = new InodeFilesystem();
    const sb = new PtySandbox(mode === 'sync' ? { syncMode: true } : {});
    sandboxes.push(sb);
    await sb.mount(fs, '/');
    expect(sb.mountModes()).toEqual({ '/': mode });

    const r = await sb.executeCommand("mkdir -p d/$'\\xf0' && printf one > $'\\xff' && printf two > $'\\xfe' && printf in > d/$'\\xf0'/f && ln -s $'\\xfe' l && cat $'\\xff' $'\\xfe'");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('onetwo');
    expect(fs.engine.readdir('/').sort()).toEqual(['d', 'l', '\udcfe', '\udcff'].sort());
    expect(fs.engine.readFile('/\udcff', 'utf8')).toBe('one');
    expect(fs.engine.readFile('/\udcfe', 'utf8')).toBe('two');
    expect(fs.engine.readFile('/d/\udcf0/f', 'utf8')).toBe('in');
    expect(fs.engine.readlink('/l')).toBe('\udcfe');

    // The other way: names made through the API, and a change inside a byte-named directory.
    await fs.writeFile('api\udc80', 'from api');
    fs.engine.symlink('t\udcff', '/l2');
    const seen = await sb.executeCommand("ls | od -An -tx1 | tr -d ' \\n'; echo; readlink l2 | od -An -tx1 | tr -d ' \\n'; echo; echo more > d/$'\\xf0'/f");
    expect(seen.exitCode, seen.stderr).toBe(0);
    const [names, target] = seen.stdout.trim().split('\n');
    expect(names).toContain(Buffer.from('api\x80\n', 'latin1').toString('hex'));
    expect(names).toContain('ff0a');
    expect(target).toBe(Buffer.from('t\xff\n', 'latin1').toString('hex'));
    expect(fs.engine.readFile('/d/\udcf0/f', 'utf8')).toBe('more\n');
    expect(fs.engine.readdir('/').sort()).toEqual(['api\udc80', 'd', 'l', 'l2', '\udcfe', '\udcff'].sort());
  });
});
