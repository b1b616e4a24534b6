import { describe, expect, it } from 'vitest';
import { InodeFs, LazyChunks } from '@vws/inode-fs';
import { InodeFilesystem } from '../src/index.js';

/** A tree exported as a manifest and imported lazily; the loader records what it is asked for. */
function lazyTree() {
  const src = new InodeFs();
  for (let d = 0; d < 5; d++) {
    src.mkdir(`/src/d${d}`, { recursive: true });
    for (let i = 0; i < 200; i++) src.writeFile(`/src/d${d}/f${i}.txt`, `file ${d}/${i}\nneedle ${i === 7 ? 'here' : 'not'}\n`);
  }
  src.writeFile('/big.bin', new Uint8Array(70_000).map((_, i) => i % 251));
  const { manifest, chunks } = src.fork().exportManifest();
  const asked: string[] = [];
  const lazy = new LazyChunks(async (hashes) => {
    asked.push(...hashes);
    return new Map(hashes.map((h) => [h, chunks.get(h)!]));
  });
  const engine = InodeFs.importManifest(manifest, { lazy });
  return { src, fs: new InodeFilesystem({ fs: engine }), asked };
}

describe('InodeFilesystem over a lazily opened engine', () => {
  it('readFile fetches the file it reads, nothing more', async () => {
    const { src, fs, asked } = lazyTree();
    expect(await fs.readFile('src/d1/f3.txt', { encoding: 'utf-8' })).toBe(src.readFile('/src/d1/f3.txt', 'utf8'));
    expect(asked).toHaveLength(1);
    expect(await fs.readFile('big.bin')).toEqual(Buffer.from(src.readFile('/big.bin')));
    expect(asked).toHaveLength(1 + 5);
    // Listing and stat need no bytes.
    expect(await fs.readdir('src/d2')).toHaveLength(200);
    expect((await fs.stat('big.bin')).size).toBe(70_000);
    expect(asked).toHaveLength(6);
  });

  it('appendFile, copyFile and grep fetch what they read (grep: the searched tree, in one batch)', async () => {
    const { src, fs, asked } = lazyTree();
    await fs.appendFile('src/d0/f0.txt', 'tail\n');
    expect(await fs.readFile('src/d0/f0.txt', { encoding: 'utf-8' })).toBe(`${src.readFile('/src/d0/f0.txt', 'utf8')}tail\n`);
    await fs.copyFile('src/d0/f1.txt', 'copy.txt');
    expect(await fs.readFile('copy.txt', { encoding: 'utf-8' })).toBe(src.readFile('/src/d0/f1.txt', 'utf8'));
    expect(asked).toHaveLength(2);
    const hits = await fs.grep({ path: 'src/d3', pattern: 'needle here', caseSensitive: true, includeHidden: false });
    expect(hits.map((h) => h.path)).toEqual(['f7.txt']);
    expect(asked.length).toBeLessThanOrEqual(2 + 200);
    expect(asked.length).toBeGreaterThan(2 + 100);
    await fs.copyFile('src/d4', 'copied', { recursive: true });
    expect(await fs.readFile('copied/f9.txt', { encoding: 'utf-8' })).toBe(src.readFile('/src/d4/f9.txt', 'utf8'));
  });
});
