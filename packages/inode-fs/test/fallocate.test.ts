// fallocate(2): the modes real tools use (databases preallocate, VM images and sqlite punch holes),
// with the engine's sparse chunks and copy-on-write forks.
import { describe, expect, it } from 'vitest';
import { CHUNK, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FsError, InodeFs } from '../src/index.js';

const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FsError);
    return (e as FsError).code;
  }
  return 'no error';
};
const filled = (n: number, byte = 7) => new Uint8Array(n).fill(byte);

describe('fallocate', () => {
  it('mode 0 grows the size to cover the range (zeros) and never shrinks it; KEEP_SIZE changes nothing', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', 'abc');
    const ino = fs.inoOf('/f');
    fs.fallocate(ino, 0, 0, 10_000);
    expect(fs.stat('/f').size).toBe(10_000);
    expect([...(fs.readFile('/f') as Uint8Array).subarray(0, 4)]).toEqual([97, 98, 99, 0]);
    fs.fallocate(ino, 0, 0, 5);
    expect(fs.stat('/f').size).toBe(10_000);
    const v = fs.version;
    fs.fallocate(ino, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
    expect(fs.stat('/f').size).toBe(10_000);
    expect(fs.version).toBe(v);
    expect(fs.usage().bytes).toBe(10_000);
  });

  it('PUNCH_HOLE|KEEP_SIZE zeroes the range, frees whole chunks, keeps the size', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', filled(4 * CHUNK));
    const ino = fs.inoOf('/f');
    const before = fs.stat('/f').blocks;
    fs.fallocate(ino, PUNCH, 100, 2 * CHUNK);
    const data = fs.readFile('/f') as Uint8Array;
    expect(data.length).toBe(4 * CHUNK);
    expect(data[99]).toBe(7);
    expect(data.subarray(100, 100 + 2 * CHUNK).every((b) => b === 0)).toBe(true);
    expect(data[100 + 2 * CHUNK]).toBe(7);
    // The chunk wholly inside the range is gone.
    expect(fs.stat('/f').blocks).toBe(before - CHUNK / 512);
    // Past the end: nothing to zero, size unchanged.
    fs.fallocate(ino, PUNCH, 10 * CHUNK, 100);
    expect(fs.stat('/f').size).toBe(4 * CHUNK);
  });

  it('ZERO_RANGE zeroes and grows unless KEEP_SIZE', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', filled(1000));
    const ino = fs.inoOf('/f');
    fs.fallocate(ino, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 900, 500);
    expect(fs.stat('/f').size).toBe(1000);
    fs.fallocate(ino, FALLOC_FL_ZERO_RANGE, 500, 1000);
    expect(fs.stat('/f').size).toBe(1500);
    const data = fs.readFile('/f') as Uint8Array;
    expect(data.subarray(0, 500).every((b) => b === 7)).toBe(true);
    expect(data.subarray(500).every((b) => b === 0)).toBe(true);
  });

  it('a punch in a fork leaves the parent whole (copy on write)', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', filled(3 * CHUNK));
    const child = fs.fork();
    child.fallocate(child.inoOf('/f'), PUNCH, 10, 2 * CHUNK);
    expect((fs.readFile('/f') as Uint8Array).every((b) => b === 7)).toBe(true);
    expect((child.readFile('/f') as Uint8Array)[20]).toBe(0);
  });

  it('refuses what it does not do, bad ranges, directories and quota overruns, changing nothing', () => {
    const fs = new InodeFs({ quota: { bytes: 4096 } });
    fs.writeFile('/f', 'x');
    fs.mkdir('/d');
    const ino = fs.inoOf('/f');
    expect(code(() => fs.fallocate(ino, FALLOC_FL_PUNCH_HOLE, 0, 10))).toBe('ENOTSUP'); // punch needs KEEP_SIZE
    expect(code(() => fs.fallocate(ino, 0x08, 0, 10))).toBe('ENOTSUP'); // COLLAPSE_RANGE
    expect(code(() => fs.fallocate(ino, 0, -1, 10))).toBe('EINVAL');
    expect(code(() => fs.fallocate(ino, 0, 0, 0))).toBe('EINVAL');
    expect(code(() => fs.fallocate(fs.inoOf('/d'), 0, 0, 10))).toBe('EISDIR');
    const fp = fs.fingerprint();
    expect(code(() => fs.fallocate(ino, 0, 0, 8192))).toBe('ENOSPC');
    expect(fs.fingerprint()).toBe(fp);
  });
});
