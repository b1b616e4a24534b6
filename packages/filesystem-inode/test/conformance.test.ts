// Our own conformance suite for what Mastra's filesystem conformance checks: file, directory, path,
// error, lifecycle and mount-config groups, with symlinks and permissions on.

import {
  DirectoryNotEmptyError,
  DirectoryNotFoundError,
  FileExistsError,
  FileNotFoundError,
  FilesystemError,
  IsDirectoryError,
  NotDirectoryError,
  PermissionError,
  StaleFileError,
} from '@mastra/core/workspace';
import { InodeFs } from '@vws/inode-fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { InodeFilesystem } from '../src/index.js';

let fs: InodeFilesystem;
beforeEach(async () => {
  fs = new InodeFilesystem();
  await fs.init();
});

describe('file operations', () => {
  it('writes and reads text and binary, with and without an encoding', async () => {
    await fs.writeFile('a.txt', 'hello');
    expect(await fs.readFile('a.txt', { encoding: 'utf-8' })).toBe('hello');
    const buf = await fs.readFile('/a.txt');
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.toString()).toBe('hello');
    const bin = Buffer.from([0, 1, 2, 255]);
    await fs.writeFile('bin.dat', bin);
    expect(await fs.readFile('bin.dat')).toEqual(bin);
    await fs.writeFile('u8.dat', new Uint8Array([9, 8]));
    expect([...((await fs.readFile('u8.dat')) as Buffer)]).toEqual([9, 8]);
  });

  it('creates parent directories by default, refuses without recursive', async () => {
    await fs.writeFile('deep/er/file.txt', 'x');
    expect((await fs.stat('deep/er')).type).toBe('directory');
    await expect(fs.writeFile('nope/f.txt', 'x', { recursive: false })).rejects.toBeInstanceOf(DirectoryNotFoundError);
    await expect(fs.writeFile('deep/er/file.txt/x', 'x', { recursive: false })).rejects.toBeInstanceOf(NotDirectoryError);
  });

  it('overwrite: false refuses an existing file', async () => {
    await fs.writeFile('o.txt', '1');
    await expect(fs.writeFile('o.txt', '2', { overwrite: false })).rejects.toBeInstanceOf(FileExistsError);
    expect(await fs.readFile('o.txt', { encoding: 'utf-8' })).toBe('1');
  });

  it('expectedMtime refuses a stale write with StaleFileError', async () => {
    await fs.writeFile('m.txt', 'v1');
    const { modifiedAt } = await fs.stat('m.txt');
    await fs.writeFile('m.txt', 'v2', { expectedMtime: modifiedAt });
    await expect(fs.writeFile('m.txt', 'v3', { expectedMtime: new Date(modifiedAt.getTime() - 60_000) })).rejects.toBeInstanceOf(StaleFileError);
    expect(await fs.readFile('m.txt', { encoding: 'utf-8' })).toBe('v2');
  });

  it('appends, creating the file and its parents', async () => {
    await fs.appendFile('logs/app.log', 'a');
    await fs.appendFile('logs/app.log', 'b');
    expect(await fs.readFile('logs/app.log', { encoding: 'utf-8' })).toBe('ab');
  });

  it('deletes files; force ignores a missing one; a directory is refused', async () => {
    await fs.writeFile('d.txt', 'x');
    await fs.deleteFile('d.txt');
    expect(await fs.exists('d.txt')).toBe(false);
    await expect(fs.deleteFile('d.txt')).rejects.toBeInstanceOf(FileNotFoundError);
    await fs.deleteFile('d.txt', { force: true });
    await fs.mkdir('dir');
    await expect(fs.deleteFile('dir')).rejects.toBeInstanceOf(IsDirectoryError);
  });

  it('copies files and trees, keeping modes; overwrite: false keeps the target', async () => {
    await fs.writeFile('src/a.txt', 'A');
    await fs.writeFile('src/sub/b.txt', 'B');
    fs.engine.chmod('/src/a.txt', 0o755);
    await fs.copyFile('src/a.txt', 'copy/a.txt');
    expect(fs.engine.stat('/copy/a.txt').mode & 0o777).toBe(0o755);
    await expect(fs.copyFile('src', 'tree')).rejects.toBeInstanceOf(IsDirectoryError);
    await fs.copyFile('src', 'tree', { recursive: true });
    expect(await fs.readFile('tree/sub/b.txt', { encoding: 'utf-8' })).toBe('B');
    await fs.writeFile('keep.txt', 'keep');
    await expect(fs.copyFile('src/a.txt', 'keep.txt', { overwrite: false })).rejects.toBeInstanceOf(FileExistsError);
    await expect(fs.copyFile('missing', 'x')).rejects.toBeInstanceOf(FileNotFoundError);
    // The copy is independent of its source.
    await fs.writeFile('src/a.txt', 'changed');
    expect(await fs.readFile('copy/a.txt', { encoding: 'utf-8' })).toBe('A');
  });

  it('moves files and directories; overwrite: false refuses', async () => {
    await fs.writeFile('m/a.txt', 'A');
    await fs.moveFile('m/a.txt', 'n/b.txt');
    expect(await fs.exists('m/a.txt')).toBe(false);
    expect(await fs.readFile('n/b.txt', { encoding: 'utf-8' })).toBe('A');
    await fs.moveFile('n', 'o');
    expect(await fs.readFile('o/b.txt', { encoding: 'utf-8' })).toBe('A');
    await fs.writeFile('p.txt', 'P');
    await expect(fs.moveFile('o/b.txt', 'p.txt', { overwrite: false })).rejects.toBeInstanceOf(FileExistsError);
    await expect(fs.moveFile('ghost', 'x')).rejects.toBeInstanceOf(FileNotFoundError);
  });
});

describe('directory operations', () => {
  it('mkdir is recursive by default and idempotent; a file in the way is refused', async () => {
    await fs.mkdir('a/b/c');
    await fs.mkdir('a/b/c');
    expect((await fs.stat('a/b/c')).type).toBe('directory');
    await expect(fs.mkdir('x/y', { recursive: false })).rejects.toBeInstanceOf(DirectoryNotFoundError);
    await fs.writeFile('f', '');
    await expect(fs.mkdir('f')).rejects.toBeInstanceOf(FileExistsError);
  });

  it('rmdir: empty, non-empty, recursive, missing, file', async () => {
    await fs.mkdir('e');
    await fs.rmdir('e');
    expect(await fs.exists('e')).toBe(false);
    await fs.writeFile('full/x.txt', 'x');
    await expect(fs.rmdir('full')).rejects.toBeInstanceOf(DirectoryNotEmptyError);
    await fs.rmdir('full', { recursive: true });
    expect(await fs.exists('full')).toBe(false);
    await expect(fs.rmdir('full')).rejects.toBeInstanceOf(DirectoryNotFoundError);
    await fs.rmdir('full', { force: true });
    await fs.writeFile('file', '');
    await expect(fs.rmdir('file')).rejects.toBeInstanceOf(NotDirectoryError);
    await expect(fs.rmdir('/')).rejects.toBeInstanceOf(PermissionError);
  });

  it('readdir lists entries with types and sizes, recursive, extension filter, maxDepth', async () => {
    await fs.writeFile('r/a.ts', '12345');
    await fs.writeFile('r/b.md', 'x');
    await fs.writeFile('r/sub/c.ts', 'y');
    await fs.writeFile('r/sub/deeper/d.ts', 'z');
    const flat = await fs.readdir('r');
    expect(flat).toEqual([
      { name: 'a.ts', type: 'file', size: 5 },
      { name: 'b.md', type: 'file', size: 1 },
      { name: 'sub', type: 'directory' },
    ]);
    const all = await fs.readdir('r', { recursive: true, extension: '.ts' });
    expect(all.filter((e) => e.type === 'file').map((e) => e.name)).toEqual(['a.ts', 'sub/c.ts', 'sub/deeper/d.ts']);
    const shallow = await fs.readdir('r', { recursive: true, maxDepth: 1 });
    expect(shallow.map((e) => e.name)).toEqual(['a.ts', 'b.md', 'sub']);
    const two = await fs.readdir('r', { recursive: true, maxDepth: 2, extension: ['ts'] });
    expect(two.map((e) => e.name)).toEqual(['a.ts', 'sub', 'sub/c.ts', 'sub/deeper']);
    await expect(fs.readdir('r/a.ts')).rejects.toBeInstanceOf(NotDirectoryError);
    await expect(fs.readdir('none')).rejects.toBeInstanceOf(DirectoryNotFoundError);
  });

  it('walk lists every entry with its path relative to the walked directory; hidden ones only when asked', async () => {
    await fs.writeFile('w/x.txt', '');
    await fs.writeFile('w/.hidden/y.txt', '');
    expect((await fs.walk('w')).map((e) => e.path)).toEqual(['x.txt']);
    expect((await fs.walk('w', { includeHidden: true })).map((e) => e.path)).toEqual(['.hidden', '.hidden/y.txt', 'x.txt']);
    expect((await fs.walk('/', { maxDepth: 1, includeHidden: true })).map((e) => e.path)).toEqual(['w']);
  });

  it('grep paths are relative to the searched directory (a searched file is its own name)', async () => {
    await fs.writeFile('src/a.ts', 'x\n  hit\n');
    await fs.writeFile('src/sub/b.ts', 'hit');
    expect((await fs.grep({ pattern: 'hit', path: '/', caseSensitive: true, includeHidden: false })).map((r) => [r.path, r.matches[0]!.column])).toEqual([['src/a.ts', 2], ['src/sub/b.ts', 0]]);
    expect((await fs.grep({ pattern: 'hit', path: './src/', caseSensitive: true, includeHidden: false })).map((r) => r.path)).toEqual(['a.ts', 'sub/b.ts']);
    expect((await fs.grep({ pattern: 'hit', path: 'src/sub/b.ts', caseSensitive: true, includeHidden: false })).map((r) => r.path)).toEqual(['b.ts']);
  });

  it('grep finds matches with line, column and context, skipping binaries', async () => {
    await fs.writeFile('g/a.ts', 'const x = 1;\nfunction hello() {}\nconst y = 2;\n');
    await fs.writeFile('g/b.bin', Buffer.from([0, 0, 104, 101, 108, 108, 111]));
    const res = await fs.grep({ pattern: 'HELLO', path: 'g', caseSensitive: false, includeHidden: false, contextLines: 1 });
    expect(res).toEqual([{ path: 'a.ts', matches: [{ line: 2, column: 9, text: 'function hello() {}', before: ['const x = 1;'], after: ['const y = 2;'] }] }]);
    expect(await fs.grep({ pattern: 'HELLO', path: 'g', caseSensitive: true, includeHidden: false })).toEqual([]);
  });
});

describe('paths, symlinks and permissions', () => {
  it('exists and stat for files, directories and missing paths; "/" is the root', async () => {
    await fs.writeFile('s/f.txt', 'abc');
    const st = await fs.stat('s/f.txt');
    expect(st).toMatchObject({ name: 'f.txt', path: 's/f.txt', type: 'file', size: 3, mimeType: 'text/plain' });
    expect((await fs.stat('/s')).mimeType).toBeUndefined();
    await fs.writeFile('img/x.PNG', Buffer.from([137, 80]));
    expect((await fs.stat('img/x.PNG')).mimeType).toBe('image/png');
    await fs.writeFile('.env', 'A=1');
    expect((await fs.stat('.env')).mimeType).toBe('application/octet-stream');
    expect(st.modifiedAt).toBeInstanceOf(Date);
    expect((await fs.stat('/')).type).toBe('directory');
    expect(await fs.exists('./s/f.txt')).toBe(true);
    expect(await fs.exists('s/missing')).toBe(false);
    await expect(fs.stat('s/missing')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('symlinks are followed, listed as links and resolved by realpath', async () => {
    await fs.writeFile('t/real.txt', 'R');
    fs.engine.symlink('real.txt', '/t/link.txt');
    fs.engine.symlink('/t', '/tl');
    expect(await fs.readFile('t/link.txt', { encoding: 'utf-8' })).toBe('R');
    expect(await fs.readFile('tl/real.txt', { encoding: 'utf-8' })).toBe('R');
    expect(await fs.readdir('t')).toContainEqual({ name: 'link.txt', type: 'file', isSymlink: true, symlinkTarget: 'real.txt' });
    expect(await fs.realpath('tl/link.txt')).toBe('/t/real.txt');
  });

  it('paths cannot climb above the root', async () => {
    await expect(fs.readFile('../etc/passwd')).rejects.toBeInstanceOf(PermissionError);
    await expect(fs.writeFile('/a/../../x', 'x')).rejects.toBeInstanceOf(PermissionError);
  });

  it('readOnly refuses every write with PermissionError and still reads', async () => {
    const ro = new InodeFilesystem({ readOnly: true, files: { '/r.txt': 'keep' } });
    for (const call of [() => ro.writeFile('x', 'y'), () => ro.appendFile('r.txt', 'y'), () => ro.deleteFile('r.txt'), () => ro.mkdir('d'), () => ro.rmdir('d'), () => ro.copyFile('r.txt', 'c'), () => ro.moveFile('r.txt', 'm')]) {
      await expect(call()).rejects.toBeInstanceOf(PermissionError);
    }
    expect(await ro.readFile('r.txt', { encoding: 'utf-8' })).toBe('keep');
  });
});

describe('errors', () => {
  it('reading a directory or a missing file', async () => {
    await fs.mkdir('dir');
    await expect(fs.readFile('dir')).rejects.toBeInstanceOf(IsDirectoryError);
    await expect(fs.readFile('nope.txt')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('quota, name length and NUL bytes keep their errno code and lose nothing', async () => {
    const small = new InodeFilesystem({ quota: { bytes: 100 } });
    await small.writeFile('a.txt', 'x'.repeat(50));
    const err = await small.writeFile('a.txt', 'y'.repeat(200)).catch((e) => e);
    expect(err).toBeInstanceOf(FilesystemError);
    expect(err.code).toBe('ENOSPC');
    expect(await small.readFile('a.txt', { encoding: 'utf-8' })).toBe('x'.repeat(50));
    expect((await fs.writeFile('n'.repeat(256), 'x').catch((e) => e)).code).toBe('ENAMETOOLONG');
    expect((await fs.writeFile('a\0b', 'x').catch((e) => e)).code).toBe('EINVAL');
  });

  it('bad options are a clear error at construction', () => {
    expect(() => new InodeFilesystem({ readOnly: 'yes' } as never)).toThrow(/readOnly/);
    expect(() => new InodeFilesystem({ quota: { bytes: -1 } })).toThrow(/quota.bytes/);
    expect(() => new InodeFilesystem({ bogus: 1 } as never)).toThrow(/InodeFilesystem: invalid options/);
  });
});

describe('lifecycle, info and mount config', () => {
  it('init and destroy through Mastra lifecycle; info and instructions describe the provider', async () => {
    const f = new InodeFilesystem({ id: 'my-fs' });
    await f._init();
    expect(f.status).toBe('ready');
    const info = f.getInfo();
    expect(info).toMatchObject({ id: 'my-fs', name: 'InodeFilesystem', provider: 'vws-inode', readOnly: false });
    expect(f.getInstructions()).toMatch(/workspace root/);
    expect(f.getMountConfig()).toEqual({ type: 'vws-inode', id: 'my-fs' });
    await f._destroy();
    expect(f.status).toBe('destroyed');
  });

  it('serves a given engine: the provider and the engine see one tree', async () => {
    const engine = new InodeFs();
    const f = new InodeFilesystem({ fs: engine });
    await f.writeFile('shared.txt', 'one tree');
    expect(engine.readFile('/shared.txt', 'utf8')).toBe('one tree');
    engine.writeFile('/back.txt', 'b');
    expect(await f.readFile('back.txt', { encoding: 'utf-8' })).toBe('b');
  });
});
