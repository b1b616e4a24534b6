// The host's side of the serving thread (serve-worker.ts): one per process, started at the first
// mount. Engine calls stay synchronous for the host: the call is posted to the worker and this
// thread sleeps on a shared flag (Atomics.wait) until the worker has answered, then reads the answer
// with receiveMessageOnPort. The worker keeps serving the kernel meanwhile, so even this thread's
// own synchronous reads of the mount are answered. Mount lifecycle calls are asynchronous.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fetchRefs, type ChunkRef } from '@vws/inode-fs';
import { threadPlacement } from './driver.js';
import { decodeError, encodeError, GATE, type AsyncRequest, type PipeReply, type Reply, type ServerEvent, type WireError } from './wire.js';

// flag[0]: the call in flight (IDLE until answered); flag[1]: the thread's start (READY once its
// handlers are in place); flag[2]: its kernel thread id (0: unknown); flag[3]: 1 when the host keeps
// it near for this call (then it does not wait on the port after it); flag[4..6]: the gate of
// pipelined writes (wire.ts GATE). Shared with serve-worker.ts.
const IDLE = 0;
const REPLIED = 1;
const DEAD = 2;
const READY = 1;
/** A pause after which the serving thread is taken to be asleep (calls: keep it near, see call()). */
const NEAR_AFTER_MS = Number(process.env.VWS_NEAR_AFTER_MS ?? 0.2);
/** Engines whose reads the host may cache (mounted ones); more are simply not cached. */
export const EPOCH_SLOTS = 256;
/** A thread that has not started by then (its module failed to load) is given up on. */
const startTimeoutMs = () => Number(process.env.VWS_SERVE_START_TIMEOUT_MS ?? 60_000);

/** The serving thread is gone (it failed, or the process is ending): engines on it are lost. */
export class ServingThreadError extends Error {
  constructor(detail: string) {
    super(`the vws serving thread is gone (${detail}); engines that lived on it and their mounts are lost`);
    this.name = 'ServingThreadError';
  }
}

/** Engine methods and our own calls that change nothing (see ServingThread.mutations). */
const READS = new Set(['$unfetched', 'fork', 'diff', 'stat', 'lstat', 'readFile', 'readdir', 'exists', 'getattr', 'lookup', 'readlink', 'readlinkIno', 'realpath', 'inoOf', 'fingerprint', 'snapshot', 'usage', 'version', 'getxattr', 'listxattr', 'pathsOf', 'readIno', 'readdirIno', 'statfs', 'fstat', '$read', '$ops', '$mounted', '$settledNow', '$slot', '$openExport', '$exportRead', '$exportClose', '$placement']);

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Where the worker's entry is: next to this module, built (.js) or from source (.ts, run by tsx). */
function workerEntry(): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './serve-worker.ts' : './serve-worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`vws: the serving thread's entry is missing (${file}); rebuild @vws/fuse`);
  // tsx by its absolute location: a bare '--import tsx' resolves from the process's cwd (the exec
  // daemon runs in '/'), and a worker that cannot load its entry never gets to say so.
  const tsx = () => pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { file, execArgv: fromSource ? ['--import', tsx(), '--conditions=@vws/source'] : [] };
}

export class ServingThread {
  readonly worker: Worker;
  private readonly port: MessagePort;
  /** Answers of pipelined writes (post()), read when the host next needs them. */
  private readonly pipePort: MessagePort;
  private readonly pipeAnswers = new Map<number, PipeReply>();
  private lastPosted = 0;
  private readonly flag = new Int32Array(new SharedArrayBuffer(32));
  /**
   * Per cached engine, a counter the serving thread bumps on every change of that engine (API or
   * FUSE): the host's read cache (remote-fs.ts) is valid while its slot has not moved.
   */
  readonly epochs = new Int32Array(new SharedArrayBuffer(4 * EPOCH_SLOTS));
  /** Per slot, the engine's usage (bytes, inodes) as of its epoch: usage() without a call. */
  readonly usage = new Float64Array(new SharedArrayBuffer(8 * 2 * EPOCH_SLOTS));
  private started = false;
  private gone: ServingThreadError | undefined;
  private nextRequest = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly watchers = new Map<number, Set<(ev: never) => void>>();
  private readonly onClosed = new Map<number, () => void>();
  private holds = 0;
  /** Host handles of engines that live here (remote-fs.ts counts them). */
  private handles = 0;

  /** `entry`: another worker file (tests); by default serve-worker next to this module. */
  constructor(entry: { file: string; execArgv: string[] } = workerEntry()) {
    const { file, execArgv } = entry;
    const { port1, port2 } = new MessageChannel();
    const pipe = new MessageChannel();
    this.port = port1;
    this.pipePort = pipe.port1;
    this.worker = new Worker(file, { workerData: { sync: port2, pipe: pipe.port2, flag: this.flag, epochs: this.epochs, usage: this.usage }, transferList: [port2, pipe.port2], execArgv, name: 'vws-serving' });
    this.worker.unref(); // only live mounts keep the process up (hold/release)
    this.worker.on('message', (m: ServerEvent | ({ id: number } & Reply)) => this.onMessage(m));
    this.worker.on('error', (e) => this.die(e.message));
    this.worker.on('exit', (code) => this.die(`exited with code ${code}`));
  }

  get alive(): boolean {
    return !this.gone;
  }

  /**
   * Counts calls that may have changed an engine (anything but the reads below): a mount whose
   * invalidations were all delivered at count N is still settled while the count is N, so the
   * settle before each command costs nothing when the API changed nothing (mount.ts).
   */
  mutations = 0;

  /** Engines whose host handles were collected, released with the next call (no call of their own). */
  private releasing: number[] = [];

  /** Ids the host gives to engines made by pipelined calls (apart from the worker's own). */
  private nextNamed = 2 ** 30;

  /**
   * A pipelined call whose result is an engine (fork): sent without waiting for the answer, the new
   * engine named here. The host then sleeps through no round trip (a command's start forks).
   */
  pipeline(t: number, m: string, a: unknown[] = []): number {
    this.beforeCall(m);
    const as = this.nextNamed++;
    this.port.postMessage({ t, m, a, as });
    return as;
  }

  /** A synchronous call into the worker: engine method `m` of engine `t` (or one of its own `$` calls). */
  call(t: number, m: string, a: unknown[] = [], transfer: ArrayBuffer[] = []): unknown {
    this.beforeCall(m);
    const release = this.releasing.length ? this.releasing.splice(0) : undefined;
    Atomics.store(this.flag, 0, IDLE);
    // After a pause the worker sleeps, and its CPU may have gone idle: woken on the CPU this thread
    // is about to leave idle while it waits, it starts at once (an idle vCPU's wake-up costs far
    // more than the call); let go again after the answer. Within a burst of calls the worker is
    // awake, waiting on the port (serve-worker.ts), and is left where it is.
    const near = performance.now() - this.lastAnswer > NEAR_AFTER_MS ? this.near : undefined;
    near?.(true);
    Atomics.store(this.flag, 3, near ? 1 : 0);
    this.port.postMessage({ t, m, a, release }, transfer);
    while (Atomics.load(this.flag, 0) === IDLE) Atomics.wait(this.flag, 0, IDLE);
    near?.(false);
    this.lastAnswer = performance.now();
    if (Atomics.load(this.flag, 0) === DEAD) {
      this.die('it failed during a call');
      throw this.gone!;
    }
    const reply = receiveMessageOnPort(this.port)?.message as Reply | undefined;
    if (!reply) throw new ServingThreadError('no answer to a call');
    if ('err' in reply) throw decodeError(reply.err, this.supply);
    return reply.ok;
  }

  /**
   * A write posted without waiting (remote-fs.ts decides when its success is certain): applied by the
   * serving thread before any later call and before any kernel request it had not yet begun when
   * gateClear() holds. Returns its sequence number; its answer is collected with answerOf().
   */
  post(t: number, m: string, a: unknown[], transfer: ArrayBuffer[] = []): number {
    this.beforeCall(m);
    const seq = (this.lastPosted = (this.lastPosted + 1) | 0 || 1);
    this.port.postMessage({ t, m, a, pipe: seq }, transfer);
    // After the message is on the port: the serving thread that sees this number finds the write.
    Atomics.store(this.flag, GATE.POSTED, seq);
    this.posted++;
    return seq;
  }

  /** Pipelined writes so far, and those the host waited for after all (tests and benchmarks). */
  posted = 0;
  postsWaited = 0;

  /**
   * After post(): no kernel request was being served meanwhile, so every request from now on
   * sees the write applied first (with the engine's epoch unchanged, nothing came in between).
   */
  gateClear(): boolean {
    return Atomics.load(this.flag, GATE.BUSY) === 0;
  }

  /** Whether the serving thread has applied pipelined write `seq` (wraps at 2^31: compared as a difference). */
  applied(seq: number): boolean {
    return ((Atomics.load(this.flag, GATE.APPLIED) - seq) | 0) >= 0;
  }

  /** The answer of pipelined write `seq`, waiting for it if `wait` (else undefined until applied). */
  answerOf(seq: number, wait: boolean): PipeReply | undefined {
    if (!this.applied(seq)) {
      if (!wait) return undefined;
      while (!this.applied(seq)) {
        if (this.gone) throw this.gone;
        if (Atomics.load(this.flag, 0) === DEAD) {
          this.die('it failed during a write');
          throw this.gone!;
        }
        Atomics.wait(this.flag, GATE.APPLIED, Atomics.load(this.flag, GATE.APPLIED), 20);
      }
    }
    for (let m = receiveMessageOnPort(this.pipePort); m; m = receiveMessageOnPort(this.pipePort)) {
      const r = m.message as PipeReply;
      this.pipeAnswers.set(r.pipe, r);
    }
    const r = this.pipeAnswers.get(seq);
    this.pipeAnswers.delete(seq);
    if (!r) throw new ServingThreadError(`no answer to pipelined write ${seq}`);
    return r;
  }

  /** Every call: the thread is there and up; a call that may change an engine is counted. */
  private beforeCall(m: string): void {
    if (this.gone) throw this.gone;
    if (!this.started) this.awaitStart();
    if (!READS.has(m)) this.mutations++;
  }

  /**
   * Before the first synchronous call: the thread must be up. A thread whose module failed to load
   * never says so while this thread sleeps (its error event needs our event loop), hence the limit.
   */
  private awaitStart(): void {
    const limit = startTimeoutMs();
    const deadline = Date.now() + limit;
    while (Atomics.load(this.flag, 1) !== READY) {
      if (Atomics.load(this.flag, 1) === DEAD || Date.now() > deadline) {
        this.die(Atomics.load(this.flag, 1) === DEAD ? 'it failed while starting' : `it did not start within ${limit / 1000} s`);
        void this.worker.terminate();
        throw this.gone!;
      }
      Atomics.wait(this.flag, 1, Atomics.load(this.flag, 1), 1000);
    }
    this.started = true;
    const tid = Atomics.load(this.flag, 2);
    const placement = tid > 0 && process.env.VWS_KEEP_NEAR !== '0' ? threadPlacement() : undefined;
    if (placement && placement.keepNear(tid, false) >= 0) {
      // Allowed here (a sandbox's seccomp or a cpuset could refuse it: then calls go without).
      this.near = (near) => placement.keepNear(tid, near);
    }
  }

  /** Keeps the serving thread on this thread's CPU (true) or lets it go (false); see driver.ts. */
  private near: ((near: boolean) => void) | undefined;
  /** When the last call was answered (performance.now()). */
  private lastAnswer = Number.NEGATIVE_INFINITY;

  private nearOff: ((near: boolean) => void) | undefined;

  /** Benchmarks: calls with and without keeping the serving thread near (where it is available). */
  setKeepNear(on: boolean): void {
    if (!this.started) this.awaitStart();
    if (on && !this.near && this.nearOff) [this.near, this.nearOff] = [this.nearOff, undefined];
    if (!on && this.near) [this.nearOff, this.near] = [this.near, undefined];
  }

  /** An asynchronous request (mount, settle, unmount). */
  request(req: DistributiveOmit<AsyncRequest, 'id'>): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextRequest++;
    // An answer still to come keeps the process up, like any pending I/O.
    this.hold();
    return new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    }).finally(() => this.release());
  }

  /**
   * Chunks not fetched yet of lazily opened engines that moved here (remote-fs.ts adopt), by hash:
   * the host fetches them from their store when the serving thread asks (a FUSE read), or before
   * a host call runs again (ChunkNotFetchedError.fetch()). Dropped once sent.
   */
  readonly chunkSources = new Map<string, ChunkRef>();

  /** Fetches these chunks here (typed errors from the store surface here) and hands them over. */
  readonly supply = async (hashes: string[], fetch?: number): Promise<void> => {
    const refs = hashes.map((h) => this.chunkSources.get(h) ?? { hash: h, bytes: null });
    const unknown = refs.find((r) => !('source' in r));
    if (unknown) throw new Error(`vws: the serving thread asked for chunk ${unknown.hash}, which no engine moved there references`);
    await fetchRefs(refs as ChunkRef[]);
    await this.request({ op: 'chunks', fetch, chunks: (refs as ChunkRef[]).map((r) => [r.hash, r.bytes!]) });
    for (const h of hashes) this.chunkSources.delete(h);
  };

  private onFetch(fetch: number, hashes: string[]): void {
    this.supply(hashes, fetch).catch((e) => {
      if (!this.gone) this.request({ op: 'chunks', fetch, error: encodeError(e) }).catch(() => {});
    });
  }

  /** Engine changes, delivered asynchronously (in batches) to the host's listeners. */
  watch(engine: number, listener: (ev: never) => void): () => void {
    let set = this.watchers.get(engine);
    if (!set) {
      set = new Set();
      this.watchers.set(engine, set);
      this.call(engine, '$watch');
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(engine) === set) {
        this.watchers.delete(engine);
        if (!this.gone) this.call(engine, '$unwatch');
      }
    };
  }

  /** Called when a mount of this thread goes away by itself (outside unmount, thread death). */
  whenClosed(mount: number, fn: () => void): void {
    this.onClosed.set(mount, fn);
  }

  /** Live mounts keep the process running, as a mount served on the main thread did. */
  hold(): void {
    if (this.holds++ === 0) this.worker.ref();
  }

  release(): void {
    if (--this.holds === 0 && !this.gone) {
      this.worker.unref();
      this.retireIfUnused();
    }
  }

  /** A host handle to an engine here was made, or collected (then its engine is released). */
  track(): void {
    this.handles++;
  }

  untrack(engine: number): void {
    this.handles--;
    if (this.gone) return;
    // Ridden along with the next call; a thread nothing uses any more is retired (which frees all).
    this.releasing.push(engine);
    this.retireIfUnused();
  }

  /**
   * With no mount, no request under way and no engine left, the thread ends (a new one starts when
   * needed): a process that is done with its workspaces keeps no thread.
   */
  private retireIfUnused(): void {
    if (this.holds > 0 || this.handles > 0 || this.gone) return;
    this.die('retired: nothing lived on it any more');
    void this.worker.terminate();
  }

  private onMessage(m: ServerEvent | ({ id: number } & Reply)): void {
    if ('event' in m) {
      if (m.event === 'changes') for (const l of this.watchers.get(m.engine) ?? []) for (const ev of m.changes) (l as (e: unknown) => void)(ev);
      else if (m.event === 'fetch') this.onFetch(m.fetch, m.hashes);
      else if (m.event === 'closed') {
        const fn = this.onClosed.get(m.mount);
        this.onClosed.delete(m.mount);
        fn?.();
      }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if ('err' in m) p.reject(decodeError(m.err as WireError));
    else p.resolve(m.ok);
  }

  private die(detail: string): void {
    if (this.gone) return;
    this.gone = new ServingThreadError(detail);
    if (current === this) current = undefined;
    for (const p of this.pending.values()) p.reject(this.gone);
    this.pending.clear();
    const closed = [...this.onClosed.values()];
    this.onClosed.clear();
    for (const fn of closed) fn();
  }
}

let current: ServingThread | undefined;

/** This process's serving thread, started on first use (and again after one died). */
export function servingThread(): ServingThread {
  current ??= new ServingThread();
  return current;
}

/** The serving thread if one runs (for exit paths, which must not start one). */
export function runningServingThread(): ServingThread | undefined {
  return current?.alive ? current : undefined;
}
