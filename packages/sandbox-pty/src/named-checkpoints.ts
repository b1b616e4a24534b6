// Named checkpoints that outlive the process (Mastra's checkpointName / checkpointsDirectory): the
// mounted InodeFilesystems of a sandbox, each in the engine's own snapshot format (versioned, with a
// checksum), in one file per name. Written to a temporary file and renamed over the old one, so a
// reader sees the old checkpoint or the new one, never half of either.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InodeFs } from '@vws/inode-fs';

const MAGIC = Buffer.from('VWSCKPT1\n', 'latin1');

export class CheckpointFileError extends Error {
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(`checkpoint file ${file} is not usable: ${why}`);
    this.name = 'CheckpointFileError';
  }
}

export function checkpointFile(directory: string, name: string): string {
  return join(directory, `${name}.vws-checkpoint`);
}

/** Saves mount path -> engine state under `name`, atomically. */
export async function saveCheckpoint(directory: string, name: string, mounts: Map<string, InodeFs>): Promise<string> {
  await mkdir(directory, { recursive: true });
  // Full snapshots: a tree opened lazily from a store is fetched first.
  for (const fs of mounts.values()) await fs.prefetch();
  const blobs = [...mounts].map(([path, fs]) => ({ path, bytes: fs.snapshot() }));
  const header = Buffer.from(JSON.stringify({ mounts: blobs.map((b) => ({ path: b.path, size: b.bytes.byteLength })) }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  const target = checkpointFile(directory, name);
  const tmp = join(directory, `.tmp-${name}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writev([MAGIC, len, header, ...blobs.map((b) => b.bytes)]);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, target);
  return target;
}

/** The saved mounts of `name`, or undefined when there is no such checkpoint. */
export async function loadCheckpoint(directory: string, name: string): Promise<Map<string, InodeFs> | undefined> {
  const file = checkpointFile(directory, name);
  if (!existsSync(file)) return undefined;
  const data = await readFile(file);
  if (data.length < MAGIC.length + 4 || !data.subarray(0, MAGIC.length).equals(MAGIC)) throw new CheckpointFileError(file, 'not a vws checkpoint');
  const hlen = data.readUInt32BE(MAGIC.length);
  let off = MAGIC.length + 4 + hlen;
  let header: { mounts: Array<{ path: string; size: number }> };
  try {
    header = JSON.parse(data.subarray(MAGIC.length + 4, off).toString('utf8'));
  } catch {
    throw new CheckpointFileError(file, 'damaged header');
  }
  const out = new Map<string, InodeFs>();
  for (const m of header.mounts) {
    if (off + m.size > data.length) throw new CheckpointFileError(file, 'truncated');
    try {
      out.set(m.path, InodeFs.restore(data.subarray(off, off + m.size)));
    } catch (e) {
      throw new CheckpointFileError(file, `mount ${m.path}: ${(e as Error).message}`);
    }
    off += m.size;
  }
  return out;
}
