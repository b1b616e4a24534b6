// The serving thread: engines that are (or may be) mounted live here, with the FUSE sessions that
// serve them, so that nothing the host program's thread does (a readFileSync of the mount, an
// execSync with cwd on it) can block the replies the kernel waits for.
//
// Two channels from the host (serve-thread.ts):
// - synchronous engine calls on `sync`: the host posts a call and sleeps on a shared flag; we answer
//   on the port, then raise the flag and wake it (it reads the answer with receiveMessageOnPort);
// - asynchronous mount lifecycle on parentPort, answered by id, plus events we send on our own.

import { readFileSync, writeSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { FsError, InodeFs, LazyChunks } from '@vws/inode-fs';
import { threadPlacement } from './driver.js';
import { splitPath } from './read-cache.js';
import { detachAllNow, serveMount, type Mount } from './serve.js';
import { decodeError, encodeError, encodeResult, GATE, isEngineRef, type AsyncRequest, type CallRequest, type PipeReply, type Reply, type ServerEvent } from './wire.js';

const { sync, pipe, flag, epochs, usage } = workerData as { sync: MessagePort; pipe: MessagePort; flag: Int32Array; epochs: Int32Array; usage: Float64Array };
const host = parentPort!;

/** Flag values shared with serve-thread.ts: flag[0] a call's state, flag[1] this thread's start. */
const REPLIED = 1;
const DEAD = 2;
const READY = 1;

const engines = new Map<number, InodeFs>();
const ids = new WeakMap<InodeFs, number>();
let nextEngine = 1;
const mounts = new Map<number, Mount>();
let nextMount = 1;
const watching = new Map<number, () => void>();

function register(fs: InodeFs): number {
  let id = ids.get(fs);
  if (id === undefined) {
    id = nextEngine++;
    ids.set(fs, id);
    engines.set(id, fs);
  }
  return id;
}

/** Pipelined calls that failed: the error comes back on the first use of the engine they were to make. */
const failed = new Map<number, unknown>();

function engine(id: number): InodeFs {
  const fs = engines.get(id);
  if (!fs) throw failed.get(id) ?? new Error(`vws serving thread: no engine ${id} (released)`);
  return fs;
}

const post = (ev: ServerEvent) => host.postMessage(ev);

/** Engine changes, batched per turn of the loop, for hosts that watch an engine. */
function watch(id: number): void {
  if (watching.has(id)) return;
  let batch: unknown[] | null = null;
  watching.set(
    id,
    engine(id).watch((ev) => {
      if (!batch) {
        batch = [];
        setImmediate(() => {
          post({ event: 'changes', engine: id, changes: batch! });
          batch = null;
        });
      }
      batch.push(ev);
    }),
  );
}

/** Engines with an epoch slot (the host caches their reads), and the slots' listeners. */
const slots = new Map<number, { slot: number; stop: () => void }>();

/** A slot whose counter moves on every change of the engine; -1 when none is free. */
function slotFor(id: number): number {
  const had = slots.get(id);
  if (had) return had.slot;
  const used = new Set([...slots.values()].map((s) => s.slot));
  let slot = 0;
  while (used.has(slot) && slot < epochs.length) slot++;
  if (slot >= epochs.length) return -1;
  const fs = engine(id);
  // The usage first, then the counter: a reader that sees the new count sees the new usage.
  const bump = () => {
    const u = fs.usage();
    usage[2 * slot] = u.bytes;
    usage[2 * slot + 1] = u.inodes;
    Atomics.add(epochs, slot, 1);
  };
  bump(); // a reused slot starts on a value no cache was filled at
  const stop = fs.watch(bump);
  slots.set(id, { slot, stop });
  return slot;
}

/**
 * Chunks of engines opened lazily from a store (they moved here as a manifest): fetched on first
 * read by asking the host, which holds the store; a FUSE read waits for them without blocking others.
 */
const fetches = new Map<number, { resolve: (m: Map<string, Uint8Array>) => void; reject: (e: Error) => void }>();
let nextFetch = 1;
let lazyTable: LazyChunks | undefined;
/** Made at the first lazy engine: until then reads skip looking for chunk refs (inode-fs lazyInUse). */
const lazy = (): LazyChunks =>
  (lazyTable ??= new LazyChunks(
    (hashes) =>
      new Promise((resolve, reject) => {
        const fetch = nextFetch++;
        fetches.set(fetch, { resolve, reject });
        post({ event: 'fetch', fetch, hashes });
      }),
  ));

/**
 * Exports being read out by the host a batch at a time (remote-fs.ts openExport): the engine's own
 * chunk buffers by hash, until the host closes the export.
 */
const exportsOpen = new Map<number, Map<string, Uint8Array>>();
let nextExport = 1;

/** Calls the serving side itself handles (not engine methods). */
const special: Record<string, (id: number, args: unknown[]) => unknown> = {
  // Bytes from the host become an engine here (the host's own engine moving, or a restore).
  // With the options it ended up with (defaults filled in), which the host keeps on its handle.
  $restore: (_id, [bytes, options]) => {
    const fs = InodeFs.restore(bytes as Uint8Array, options as object);
    const { quota, uid, gid, umask } = fs.options;
    return { $engine: register(fs), options: { quota, uid, gid, umask } };
  },
  // A lazily opened engine moving here: its manifest, and the chunks it had fetched already.
  $restoreManifest: (_id, [manifest, known, options]) => {
    for (const [hash, bytes] of known as Array<[string, Uint8Array]>) lazy().put(hash, bytes);
    const fs = InodeFs.importManifest(manifest as Uint8Array, { ...(options as object), lazy: lazy() });
    const { quota, uid, gid, umask } = fs.options;
    return { $engine: register(fs), options: { quota, uid, gid, umask } };
  },
  // A big tree from the host as its manifest and every chunk (remote-fs.ts adopt).
  $importManifest: (_id, [manifest, chunks, options]) => {
    const known = new Map(chunks as Array<[string, Uint8Array]>);
    const fs = InodeFs.importManifest(manifest as Uint8Array, { ...(options as object), chunk: (hash) => known.get(hash)! });
    const { quota, uid, gid, umask } = fs.options;
    return { $engine: register(fs), options: { quota, uid, gid, umask } };
  },
  $unfetched: (id, [paths]) => {
    const refs = engine(id).unfetched(paths as string | string[] | undefined);
    return { hashes: refs.map((r) => r.hash), bytes: refs.reduce((n, r) => n + r.length, 0) };
  },
  $slot: (id) => slotFor(id),
  // Where this thread may run while it answers (tests: the host keeps it near, serve-thread.ts).
  $placement: () => /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? '',
  $openExport: (id, [options]) => {
    const { manifest, chunks, unfetched } = engine(id).exportManifest(decodeArg(options) as object);
    const n = nextExport++;
    exportsOpen.set(n, chunks);
    return { export: n, manifest, unfetched: [...unfetched], chunks: [...chunks].map(([hash, c]) => [hash, c.length]) };
  },
  // Copies of a batch (handed over by transfer: answer()).
  $exportRead: (_id, [n, hashes]) => {
    const chunks = exportsOpen.get(n as number);
    if (!chunks) throw new Error(`vws serving thread: no open export ${n}`);
    return (hashes as string[]).map((h) => {
      const c = chunks.get(h);
      if (!c) throw new Error(`vws serving thread: chunk ${h} is not part of export ${n}`);
      return [h, new Uint8Array(c)];
    });
  },
  $exportClose: (_id, [n]) => void exportsOpen.delete(n as number),
  // A read for the host's cache: its answer, and whether its path names the file plainly (no
  // symlink on the way), which lets a later write keep it (remote-fs.ts).
  $read: (id, [method, args]) => {
    const fs = engine(id);
    const a = args as unknown[];
    let plain = false;
    try {
      plain = typeof a[0] === 'string' && fs.realpath(a[0]) === a[0];
    } catch {
      // missing: not plain
    }
    try {
      return { ok: encodeResult((fs as unknown as Record<string, (...x: unknown[]) => unknown>)[method as string](...a), register), plain };
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      // A missing name in a directory named plainly: the host may then create it without waiting,
      // and, given the directory's names (a small one), answer misses beside it by itself.
      const dir = e.code === 'ENOENT' && typeof a[0] === 'string' ? splitPath(a[0])[0] : undefined;
      const parentPlain = dir !== undefined && plainDir(fs, dir);
      const names = parentPlain ? fs.readdir(dir!) : undefined;
      return { err: encodeError(e), plain, parentPlain, names: names && names.length <= LISTING_MAX ? names : undefined };
    }
  },
  // writeFile, then the file's Stats and the engine's epoch as of both (nothing runs in between
  // here): the host caches the Stats, since a write is usually followed by a stat.
  // `simple`: the write touched that one name and nothing else that has a name (no symlink on the
  // way, one link), so the host may keep its other cached answers (remote-fs.ts).
  $writeFileStat: (id, [path, data, options]) => {
    const fs = engine(id);
    const slot = slots.get(id)?.slot;
    const before = slot === undefined ? null : Atomics.load(epochs, slot);
    fs.writeFile(path as string, data as Uint8Array | string, options as object);
    const st = fs.stat(path as string);
    const simple = st.nlink === 1 && fs.realpath(path as string) === path;
    return { stats: encodeResult(st, register), before, after: slot === undefined ? null : Atomics.load(epochs, slot), simple };
  },
  $release: (id) => {
    slots.get(id)?.stop();
    slots.delete(id);
    watching.get(id)?.();
    watching.delete(id);
    engines.delete(id);
    failed.delete(id);
  },
  $watch: (id) => watch(id),
  $unwatch: (id) => {
    watching.get(id)?.();
    watching.delete(id);
  },
  $mounted: (id) => mounts.get(id)?.mounted ?? false,
  $settledNow: (id) => mounts.get(id)?.settledNow?.() ?? true,
  $ops: (id) => (mounts.get(id)?.ops ? new Map(mounts.get(id)!.ops) : undefined),
  // The host process is exiting or was signalled: detach everything now, synchronously.
  $detachAll: () => detachAllNow(),
  // Reads into a caller's buffer: the bytes travel back and the host copies them.
  readInto: (id, [fh, length, position]) => {
    const out = new Uint8Array(length as number);
    const n = engine(id).readInto(fh as number, out, position as number);
    return out.subarray(0, n);
  },
  readIno: (id, [ino, length, position]) => {
    const out = new Uint8Array(length as number);
    const n = engine(id).readIno(ino as number, out, position as number);
    return out.subarray(0, n);
  },
  version: (id) => engine(id).version,
};

/** Directories with more names than this are not sent with a miss (remote-fs.ts missFromListing). */
const LISTING_MAX = 1024;

/** Whether `dir` names a directory with no symlink on the way. */
function plainDir(fs: InodeFs, dir: string): boolean {
  try {
    return fs.realpath(dir) === dir && fs.stat(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Engine arguments arrive as ids; options objects may carry one (`snapshot({ since })`). */
function decodeArg(a: unknown): unknown {
  if (isEngineRef(a)) return engine(a.$engine);
  if (a && typeof a === 'object' && !ArrayBuffer.isView(a) && isEngineRef((a as { since?: unknown }).since)) {
    return { ...a, since: engine((a as { since: { $engine: number } }).since.$engine) };
  }
  return a;
}

function call(req: CallRequest): unknown {
  for (const id of req.release ?? []) special.$release(id, []);
  const own = special[req.m];
  if (own) return own(req.t, req.a);
  const fs = engine(req.t);
  const method = (fs as unknown as Record<string, unknown>)[req.m];
  if (typeof method !== 'function') throw new TypeError(`InodeFs has no method ${req.m}`);
  return encodeResult((method as (...a: unknown[]) => unknown).apply(fs, req.a.map(decodeArg)), register);
}

function answer(req: CallRequest): void {
  if (req.pipe !== undefined) {
    // A write the host already reported done: its answer (the Stats for the host's cache, or an
    // error it did not foresee) waits on the pipe port until the host next looks.
    let reply: PipeReply;
    try {
      reply = { pipe: req.pipe, t: req.t, ok: call(req) };
    } catch (e) {
      reply = { pipe: req.pipe, t: req.t, err: encodeError(e) };
    }
    pipe.postMessage(reply);
    Atomics.store(flag, GATE.APPLIED, req.pipe);
    Atomics.notify(flag, GATE.APPLIED);
    return;
  }
  if (req.as !== undefined) {
    // Pipelined: nobody waits for this one.
    try {
      const made = call(req);
      const fs = isEngineRef(made) ? engines.get(made.$engine) : undefined;
      if (!fs) throw new Error(`vws serving thread: ${req.m} made no engine`);
      // Known by the host's name only.
      engines.delete((made as { $engine: number }).$engine);
      engines.set(req.as, fs);
      ids.set(fs, req.as);
    } catch (e) {
      failed.set(req.as, e);
    }
    return;
  }
  let reply: Reply;
  try {
    reply = { ok: call(req) };
  } catch (e) {
    reply = { err: encodeError(e) };
  }
  // Bytes travel by transfer (cloning an ArrayBuffer costs several times the whole call); the result
  // is always a copy of ours (wire.ts), never a buffer the engine still holds.
  const ok = (reply as { ok?: unknown }).ok;
  try {
    const transfer = ok instanceof Uint8Array ? [ok.buffer as ArrayBuffer] : req.m === 'exportManifest' && ok ? handOverChunks(ok as { chunks: Map<string, Uint8Array> }) : req.m === '$exportRead' && Array.isArray(ok) ? (ok as Array<[string, Uint8Array]>).map(([, c]) => c.buffer as ArrayBuffer) : [];
    sync.postMessage(reply, transfer);
  } catch (e) {
    // A result that cannot cross (it should not happen): the caller gets the error, we go on.
    sync.postMessage({ err: encodeError(e) });
  }
  Atomics.store(flag, 0, REPLIED);
  Atomics.notify(flag, 0);
}

/**
 * A manifest's chunks are the engine's own buffers: each goes as a copy of its own, handed over, so
 * that a big export (a vault's first save) is not also held whole in the message and again as the
 * host's clone of it.
 */
function handOverChunks(result: { chunks: Map<string, Uint8Array> }): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const [hash, c] of result.chunks) {
    const own = new Uint8Array(c); // a copy (a Buffer's slice() would be a view of the same memory)
    result.chunks.set(hash, own);
    out.push(own.buffer as ArrayBuffer);
  }
  return out;
}

/** Applies the writes the host has posted and we have not applied yet (with any calls queued before them). */
function catchUp(): void {
  while (Atomics.load(flag, GATE.APPLIED) !== Atomics.load(flag, GATE.POSTED)) {
    const next = receiveMessageOnPort(sync);
    if (!next) return; // posted after it was queued: it is there (serve-thread.ts post())
    answer(next.message as CallRequest);
  }
}

/**
 * Around each kernel request: BUSY tells a host that has just posted a write that a request may be
 * under way (then it waits for its write's answer), and writes posted before the request are
 * applied before it, so no request sees the tree from before a write the host already reported done.
 */
const gate = {
  enter(): void {
    Atomics.add(flag, GATE.BUSY, 1); // a count: the host's requests below hold it across awaits
    catchUp();
  },
  leave(): void {
    Atomics.sub(flag, GATE.BUSY, 1);
  },
};

/**
 * Calls come in bursts (a tool call is several engine calls): after one, keep taking the next
 * straight off the port for a short while instead of going back to sleep in the event loop, whose
 * wake-up costs more than the call itself (as the FUSE side spins after a request). Not when the
 * host kept us on its own CPU for the call (flag[3]): waiting would keep the host from its CPU.
 */
const SPIN_MS = 0.05;
sync.on('message', (req: CallRequest) => {
  answer(req);
  if (Atomics.load(flag, 3) === 1) return;
  let until = performance.now() + SPIN_MS;
  while (performance.now() < until) {
    const next = receiveMessageOnPort(sync);
    if (next) {
      answer(next.message as CallRequest);
      until = performance.now() + SPIN_MS;
    }
  }
});

host.on('message', async (req: AsyncRequest) => {
  // A settle, an unmount or chunks for a parked read come after the writes posted before them,
  // and may change engines themselves (an unmount lets go of the kernel's holds): gated as requests.
  gate.enter();
  try {
    let ok: unknown;
    if (req.op === 'mount') {
      const id = nextMount++;
      // Gone by unmount or from outside (fusermount -u, an aborted connection): tell the host.
      // Kept until the host unmounts (which also removes a directory the mount made).
      const m = await serveMount(engine(req.engine), req.dir, { ...req.options, gate }, () => post({ event: 'closed', mount: id }));
      mounts.set(id, m);
      ok = { mount: id, path: m.path };
    } else if (req.op === 'settle') {
      await mounts.get(req.mount)?.settle();
    } else if (req.op === 'chunks') {
      for (const [hash, bytes] of req.chunks ?? []) lazy().put(hash, bytes);
      const waiting = req.fetch === undefined ? undefined : fetches.get(req.fetch);
      if (waiting) {
        fetches.delete(req.fetch!);
        if (req.error) waiting.reject(decodeError(req.error));
        else waiting.resolve(new Map(req.chunks));
      }
    } else if (req.op === 'unmount') {
      const m = mounts.get(req.mount);
      mounts.delete(req.mount);
      await m?.unmount();
    }
    host.postMessage({ id: req.id, ok });
  } catch (e) {
    host.postMessage({ id: req.id, err: encodeError(e) });
  } finally {
    gate.leave();
  }
});

// A failure nobody caught ends this thread: say so first, so a host sleeping on a call wakes with
// an error instead of waiting forever. (serve.ts's exit handler and the addon's teardown hook take
// the mounts down.)
process.on('uncaughtException', (e) => {
  Atomics.store(flag, 0, DEAD);
  Atomics.notify(flag, 0);
  if (Atomics.load(flag, 1) !== READY) {
    Atomics.store(flag, 1, DEAD);
    Atomics.notify(flag, 1);
  }
  // Written at once: the host may be on its way out and would never print a worker's console.
  writeSync(2, `vws serving thread failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});

// Handlers in place: calls may come. Our thread id lets the host keep us near it during a call.
Atomics.store(flag, 2, threadPlacement()?.threadId() ?? 0);
Atomics.store(flag, 1, READY);
Atomics.notify(flag, 1);
