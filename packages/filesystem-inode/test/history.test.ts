import { describe, expect, it } from 'vitest';
import { InodeFilesystem } from '../src/index.js';

describe('checkpoints, forks and diffs', () => {
  it('checkpoint, change, restore gives back exactly the checkpoint', async () => {
    const fs = new InodeFilesystem({ files: { '/app/main.py': 'print(1)\n' } });
    const before = fs.engine.fingerprint();
    const info = fs.checkpoint('green');
    expect(info).toMatchObject({ name: 'green', files: 2 });
    await fs.writeFile('app/main.py', 'broken');
    await fs.writeFile('app/new.py', 'x');
    await fs.deleteFile('app/main.py');
    fs.restore('green');
    expect(fs.engine.fingerprint()).toBe(before);
    expect(await fs.readFile('app/main.py', { encoding: 'utf-8' })).toBe('print(1)\n');
    expect(await fs.exists('app/new.py')).toBe(false);
    // The checkpoint survives writes after a restore.
    await fs.writeFile('app/main.py', 'again');
    fs.restore('green');
    expect(await fs.readFile('app/main.py', { encoding: 'utf-8' })).toBe('print(1)\n');
  });

  it('lists, deletes and refuses unknown checkpoints', () => {
    const fs = new InodeFilesystem();
    fs.checkpoint('a');
    fs.checkpoint('b');
    expect(fs.listCheckpoints().map((c) => c.name)).toEqual(['a', 'b']);
    expect(fs.deleteCheckpoint('a')).toBe(true);
    expect(() => fs.restore('a')).toThrow(/no checkpoint named 'a'/);
  });

  it('diff from a checkpoint to now, and between two checkpoints', async () => {
    const fs = new InodeFilesystem({ files: { '/keep.txt': 'k', '/edit.txt': 'v1', '/old.txt': 'o' } });
    fs.checkpoint('t0');
    await fs.writeFile('edit.txt', 'v2');
    await fs.deleteFile('old.txt');
    await fs.writeFile('new.txt', 'n');
    await fs.moveFile('keep.txt', 'kept.txt');
    fs.checkpoint('t1');
    const d = fs.diff('t0');
    expect(d.added.map((c) => c.path)).toEqual(['/new.txt']);
    expect(d.modified.map((c) => c.path)).toEqual(['/edit.txt']);
    expect(d.deleted.map((c) => c.path)).toEqual(['/old.txt']);
    expect(d.renamed.map((c) => [c.oldPath, c.path])).toEqual([['/keep.txt', '/kept.txt']]);
    expect(fs.diff('t0', 't1')).toEqual(d);
    expect(fs.diff('t1')).toEqual({ added: [], modified: [], deleted: [], renamed: [] });
    expect(fs.diff().added.length).toBe(3);
  });

  it('fork gives an independent provider in O(1)', async () => {
    const a = new InodeFilesystem({ files: { '/f.txt': 'base' } });
    const b = a.fork();
    await b.writeFile('f.txt', 'fork');
    await a.writeFile('only-a.txt', 'a');
    expect(await a.readFile('f.txt', { encoding: 'utf-8' })).toBe('base');
    expect(await b.readFile('f.txt', { encoding: 'utf-8' })).toBe('fork');
    expect(await b.exists('only-a.txt')).toBe(false);
    expect(b.id).not.toBe(a.id);
  });
});
