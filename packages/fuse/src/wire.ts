// What crosses between the host thread and the serving thread (serve-thread.ts <-> serve-worker.ts).
// Messages are structured clones, which keep plain data, bigints and byte arrays but not classes:
// engines travel as ids, Stats and our typed errors are rebuilt on the other side.

import { ChunkNotFetchedError, FsError, InodeFs, SnapshotError, Stats, type ErrorCode } from '@vws/inode-fs';
import { FuseUnavailableError, MountError } from './errors.js';

/** An engine that lives on the serving thread, by id. */
export interface EngineRef {
  $engine: number;
}

/** A synchronous call: method `m` of engine `t` with arguments `a`. */
export interface CallRequest {
  t: number;
  m: string;
  a: unknown[];
  /** Engines the host no longer holds, released before the call. */
  release?: number[];
  /**
   * A pipelined call (no answer awaited): its result is an engine the host has already named `as`.
   * Calls are handled in order, so the next call may use that id at once.
   */
  as?: number;
  /**
   * A write the host has already reported done (remote-fs.ts, pipelined writes): its answer goes on
   * the pipe port, tagged with this sequence number, and `flag[GATE.APPLIED]` moves to it.
   */
  pipe?: number;
}

/**
 * Slots of the shared flag array (serve-thread.ts) that order pipelined writes against kernel
 * requests: the host stores POSTED after posting one; the serving thread stores APPLIED after
 * applying one, and counts in BUSY the kernel requests (and host requests) it is serving (it
 * applies posted writes first). A host that sees BUSY at 0 and the engine unchanged after posting
 * knows its write comes before any kernel request not yet begun.
 */
export const GATE = { POSTED: 4, APPLIED: 5, BUSY: 6 } as const;

/** A pipelined write's answer: $writeFileStat's result, or its error. */
export type PipeReply = { pipe: number; t: number } & ({ ok: unknown } | { err: WireError });

export type Reply = { ok: unknown } | { err: WireError };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  syscall?: string;
  path?: string;
  /** FuseUnavailableError's parts. */
  missing?: string;
  install?: string;
  /** ChunkNotFetchedError's parts. */
  hashes?: string[];
  bytes?: number;
  stack?: string;
}

/** Asynchronous requests (mount lifecycle), answered by id. */
export type AsyncRequest =
  | { id: number; op: 'mount'; engine: number; dir?: string; options: WireMountOptions }
  | { id: number; op: 'settle'; mount: number }
  | { id: number; op: 'unmount'; mount: number }
  // Chunks of lazily opened engines: bytes the host fetched (for the serving thread's `fetch`
  // event `fetch`, or ahead of a call), or why it could not.
  | { id: number; op: 'chunks'; fetch?: number; chunks?: Array<[string, Uint8Array]>; error?: WireError };

export interface WireMountOptions {
  countOps?: boolean;
  allowOther?: boolean;
  cache?: { entry?: number; attr?: number; negative?: number };
  spinUs?: number;
  readOnly?: boolean;
}

/** Messages the serving thread sends on its own. */
export type ServerEvent =
  | { event: 'changes'; engine: number; changes: unknown[] }
  | { event: 'closed'; mount: number }
  // A read on the serving thread needs chunks of a lazily opened engine: the host fetches them.
  | { event: 'fetch'; fetch: number; hashes: string[] };

export const isEngineRef = (v: unknown): v is EngineRef => typeof v === 'object' && v !== null && typeof (v as EngineRef).$engine === 'number';

/** Serving side: bytes to hand over by transfer, in a buffer of their own. */
const ownCopy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes); // (Buffer#slice would not copy)

const isStatsLike = (v: unknown): v is { $stats: object } => typeof v === 'object' && v !== null && '$stats' in v;

/** Serving side: a result as a message (engines by id, Stats marked for rebuilding). */
export function encodeResult(value: unknown, engineId: (fs: InodeFs) => number): unknown {
  if (value instanceof Uint8Array) return ownCopy(value);
  if (value instanceof InodeFs) return { $engine: engineId(value) };
  if (value instanceof Stats) return { $stats: { ...value } };
  if (Array.isArray(value) && value.length > 0 && value[0] instanceof Stats) return value.map((s) => ({ $stats: { ...s } }));
  return value;
}

/** Host side: a result rebuilt (Stats get their methods back; engines become handles via `adopt`). */
export function decodeResult(value: unknown, adopt: (ref: EngineRef) => InodeFs): unknown {
  if (isEngineRef(value)) return adopt(value);
  if (isStatsLike(value)) return Object.setPrototypeOf(value.$stats, Stats.prototype);
  if (Array.isArray(value) && value.length > 0 && isStatsLike(value[0])) return value.map((s) => Object.setPrototypeOf(s.$stats, Stats.prototype));
  return value;
}

export function encodeError(e: unknown): WireError {
  if (e instanceof FsError) return { name: 'FsError', message: e.message, code: e.code, syscall: e.syscall, path: e.path, stack: e.stack };
  if (e instanceof MountError) return { name: 'MountError', message: e.message, path: e.path, stack: e.stack };
  if (e instanceof FuseUnavailableError) return { name: 'FuseUnavailableError', message: e.message, missing: e.missing, install: e.install, stack: e.stack };
  if (e instanceof ChunkNotFetchedError) return { name: 'ChunkNotFetchedError', message: e.message, hashes: e.hashes, bytes: e.bytes, stack: e.stack };
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: string }).code, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/**
 * Rebuilds the error as the class the caller would have got from a local engine. `fetch`: how the
 * host fetches chunks a ChunkNotFetchedError names (into the serving thread).
 */
export function decodeError(w: WireError, fetch?: (hashes: string[]) => Promise<void>): Error {
  let e: Error;
  if (w.name === 'FsError') {
    e = new FsError(w.code as ErrorCode, w.syscall ?? '', w.path);
    e.message = w.message; // with the detail the engine gave
  }
  else if (w.name === 'MountError') {
    e = new MountError('', w.path ?? '');
    e.message = w.message;
  } else if (w.name === 'FuseUnavailableError') e = new FuseUnavailableError(w.missing ?? '', w.install ?? '');
  else if (w.name === 'SnapshotError') e = new SnapshotError(w.message);
  else if (w.name === 'ChunkNotFetchedError' && w.hashes) {
    const hashes = w.hashes;
    e = new ChunkNotFetchedError({ hashes, bytes: w.bytes ?? 0, fetch: () => (fetch ? fetch(hashes) : Promise.reject(new Error('vws: no way to fetch these chunks'))) }, w.message);
  }
  else if (w.name === 'TypeError') e = new TypeError(w.message);
  else if (w.name === 'RangeError') e = new RangeError(w.message);
  else {
    e = new Error(w.message);
    if (w.name !== 'Error') e.name = w.name;
    if (w.code) (e as { code?: string }).code = w.code;
  }
  // The serving thread's stack says where it failed; the caller's own frames follow. Composed when
  // read: formatting a stack costs more than the whole call, and most errors are answers (a miss).
  if (w.stack) {
    const here: { stack?: string } = {};
    Error.captureStackTrace(here, decodeError);
    const there = w.stack;
    let stack: string | undefined;
    Object.defineProperty(e, 'stack', {
      configurable: true,
      get: () => (stack ??= `${there}\n    --- on the serving thread, called from:\n${(here.stack ?? '').split('\n').slice(1).join('\n')}`),
      set: (v: string) => {
        stack = v;
      },
    });
  }
  return e;
}
