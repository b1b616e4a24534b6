import { createHash } from 'node:crypto';
import { ChunkHashMismatchError } from './errors.js';

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Throws ChunkHashMismatchError unless the bytes hash to `hash`. */
export function verifyChunk(hash: string, bytes: Uint8Array): void {
  const actual = sha256(bytes);
  if (actual !== hash) throw new ChunkHashMismatchError(hash, actual);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
