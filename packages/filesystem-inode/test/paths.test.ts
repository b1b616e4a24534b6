// Paths through the API as Linux has them: used as given (no trimming; a trailing space is another
// name, as in Mastra's LocalFilesystem, checked side by side), non-string paths get Mastra's typed
// error, and a refused call leaves the tree exactly as it was (fingerprint before and after).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemError, LocalFilesystem } from '@mastra/core/workspace';
import { afterAll, describe, expect, it } from 'vitest';
import { InodeFilesystem } from '../src/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function both(): Promise<[InodeFilesystem, LocalFilesystem]> {
  const dir = mkdtempSync(join(tmpdir(), 'vws-paths-'));
  dirs.push(dir);
  const local = new LocalFilesystem({ basePath: dir });
  await local.init();
  const ours = new InodeFilesystem();
  for (const fs of [ours, local]) {
    await fs.mkdir('keep');
    await fs.writeFile('keep/a.txt', 'original');
  }
  return [ours, local];
}

const list = async (fs: InodeFilesystem | LocalFilesystem) => (await fs.readdir('keep')).map((e) => e.name).sort();

describe('paths are used as given', () => {
  for (const suffix of [' ', '\t', '\n', '  ']) {
    const label = JSON.stringify(suffix);
    it(`writeFile, deleteFile and moveFile with a trailing ${label} name another file (as LocalFilesystem)`, async () => {
      const [ours, local] = await both();
      for (const fs of [ours, local]) {
        await fs.writeFile(`keep/a.txt${suffix}`, 'other');
        expect(await fs.readFile('keep/a.txt', { encoding: 'utf-8' })).toBe('original');
        expect(await fs.readFile(`keep/a.txt${suffix}`, { encoding: 'utf-8' })).toBe('other');
      }
      expect(await list(ours)).toEqual(await list(local));
      expect(await list(ours)).toEqual(['a.txt', `a.txt${suffix}`].sort());
      for (const fs of [ours, local]) {
        await fs.moveFile(`keep/a.txt${suffix}`, `keep/b.txt${suffix}`);
        await fs.deleteFile(`keep/b.txt${suffix}`);
        expect(await fs.readFile('keep/a.txt', { encoding: 'utf-8' })).toBe('original');
      }
      expect(await list(ours)).toEqual(['a.txt']);
      expect(await list(local)).toEqual(['a.txt']);
    });
  }

  it('a leading space is part of the name too', async () => {
    const [ours] = await both();
    await ours.writeFile(' keep/a.txt', 'x');
    expect(await ours.exists(' keep/a.txt')).toBe(true);
    expect(await ours.readFile('keep/a.txt', { encoding: 'utf-8' })).toBe('original');
  });
});

describe('non-string paths get a typed error', () => {
  const bad: unknown[] = [undefined, null, 42, { path: 'x' }, ['a'], true];
  for (const value of bad) {
    it(`${JSON.stringify(value) ?? 'undefined'} as a path`, async () => {
      const fs = new InodeFilesystem({ files: { '/a.txt': 'a' } });
      const before = fs.engine.fingerprint();
      const calls: Array<() => Promise<unknown>> = [
        () => fs.readFile(value as string),
        () => fs.writeFile(value as string, 'x'),
        () => fs.deleteFile(value as string),
        () => fs.mkdir(value as string),
        () => fs.copyFile(value as string, '/b'),
        () => fs.copyFile('/a.txt', value as string),
        () => fs.moveFile('/a.txt', value as string),
        () => fs.stat(value as string),
        () => fs.readdir(value as string),
        () => fs.rmdir(value as string),
      ];
      for (const call of calls) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(FilesystemError);
        expect((err as FilesystemError).code).toBe('EINVAL');
        expect((err as Error).message).toMatch(/must be a string, got/);
      }
      expect(await fs.exists(value as string)).toBe(false);
      expect(fs.engine.fingerprint()).toBe(before);
    });
  }
});

describe('a refused call changes nothing', () => {
  const refuse = async (fs: InodeFilesystem, call: () => Promise<unknown>, code: string) => {
    const before = fs.engine.fingerprint();
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `expected ${code}`).toBeInstanceOf(FilesystemError);
    expect((err as FilesystemError).code).toBe(code);
    expect(fs.engine.fingerprint(), 'the tree changed').toBe(before);
  };

  it('a 256-byte name under missing parents leaves no parents', async () => {
    const fs = new InodeFilesystem({ files: { '/keep/a.txt': 'a' } });
    const long = 'n'.repeat(256);
    await refuse(fs, () => fs.writeFile(`new/deep/${long}`, 'x'), 'ENAMETOOLONG');
    await refuse(fs, () => fs.appendFile(`new/deep/${long}`, 'x'), 'ENAMETOOLONG');
    await refuse(fs, () => fs.copyFile('keep/a.txt', `new/deep/${long}`), 'ENAMETOOLONG');
    await refuse(fs, () => fs.moveFile('keep/a.txt', `new/deep/${long}`), 'ENAMETOOLONG');
    await refuse(fs, () => fs.mkdir(`new/deep/${long}`), 'ENAMETOOLONG');
    expect(await fs.exists('new')).toBe(false);
  });

  it('a byte-quota refusal after making the missing parents leaves no parents', async () => {
    const fs = new InodeFilesystem({ quota: { bytes: 1000 }, files: { '/keep/a.txt': 'a' } });
    await refuse(fs, () => fs.writeFile('new/deep/big.bin', new Uint8Array(2000)), 'ENOSPC');
    expect(await fs.exists('new')).toBe(false);
  });

  it('an inode-quota refusal midway through the parents leaves no parents', async () => {
    const fs = new InodeFilesystem({ quota: { inodes: 5 }, files: { '/keep/a.txt': 'a' } });
    await refuse(fs, () => fs.writeFile('n1/n2/n3/f', 'x'), 'ENOSPC');
    await refuse(fs, () => fs.mkdir('n1/n2/n3/n4'), 'ENOSPC');
  });

  it('a tree copy past the byte quota leaves no partial copy', async () => {
    const files: Record<string, Uint8Array<ArrayBuffer>> = {};
    for (let i = 0; i < 20; i++) files[`/src/sub${i % 3}/f${i}.bin`] = new Uint8Array(100);
    const fs = new InodeFilesystem({ quota: { bytes: 3000 }, files });
    await refuse(fs, () => fs.copyFile('src', 'dst', { recursive: true }), 'ENOSPC');
    expect(await fs.exists('dst')).toBe(false);
    // Into an existing directory too.
    await fs.mkdir('dst2');
    await refuse(fs, () => fs.copyFile('src', 'dst2/copy', { recursive: true }), 'ENOSPC');
  });

  it('a tree copy past the inode quota leaves no partial copy', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`/src/f${i}`] = 'x';
    const fs = new InodeFilesystem({ quota: { inodes: 15 }, files });
    await refuse(fs, () => fs.copyFile('src', 'dst', { recursive: true }), 'ENOSPC');
  });

  it('a copy that fits still works (the check is not a blanket refusal)', async () => {
    const fs = new InodeFilesystem({ quota: { bytes: 3000 }, files: { '/src/a/f': new Uint8Array(1000) } });
    await fs.copyFile('src', 'dst', { recursive: true });
    expect((await fs.readFile('dst/a/f')).length).toBe(1000);
  });
});
