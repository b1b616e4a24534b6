// Reading and writing files of an on-disk store safely: reads never follow a symlink, never block on a
// FIFO, refuse anything but a regular file and are bounded; writes are atomic and durable (temp file,
// fsync, rename, fsync of the directory), so a reader or a crash sees the old file or the new one.

import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreDamagedError } from './errors.js';

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The file's bytes; StoreDamagedError when it is not a regular file or holds more than maxBytes. */
export function readRegular(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new StoreDamagedError(path, 'is a symbolic link, not a file');
    if (code === 'EISDIR') throw new StoreDamagedError(path, 'is a directory, not a file');
    if (code === 'ENOTDIR') throw new StoreDamagedError(dirname(path), 'is not a directory');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new StoreDamagedError(path, 'is not a regular file');
    if (st.size > maxBytes) throw new StoreDamagedError(path, `holds ${st.size} bytes, more than the limit ${maxBytes}`);
    // Its own memory (not a view on a shared pool): the engine adopts chunk bytes as they are.
    const out = Buffer.allocUnsafeSlow(st.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== out.length) throw new StoreDamagedError(path, `shrank while read (${off} of ${st.size} bytes)`);
    return out;
  } finally {
    closeSync(fd);
  }
}

let seq = 0;

/** Writes the file's new bytes durably: a temp file beside it, fsync, rename over it. */
/** With `sync: false` the caller makes it durable later (syncFile, or one syncfs for many files). */
export function writeDurable(path: string, data: Uint8Array | string, options: { syncDir?: boolean; sync?: boolean } = {}): void {
  const tmp = `${path}.tmp-${process.pid}-${seq++}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    if (options.sync !== false) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  if (options.syncDir !== false) syncDir(dirname(path));
}

/** Makes a directory's entries (a rename, a new file) durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a file's bytes durable. */
export function syncFile(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
