// Chunks known by hash but not fetched yet: what a state imported lazily from a manifest holds until
// something reads them. The engine is synchronous and a store is not, so a synchronous read of an
// unfetched chunk throws ChunkNotFetchedError (nothing changed) and the caller fetches asynchronously
// and retries: `await fetching(() => fs.readFile(p))`, or `await fs.prefetch(p)` first.

/** A chunk referenced by its SHA-256: `bytes` is null until fetched, then set once and kept. */
export class ChunkRef {
  bytes: Uint8Array | null = null;
  constructor(
    /** SHA-256 of the bytes, hex. */
    readonly hash: string,
    /** The chunk's length (known from the manifest; exact unless `exact` is false). */
    readonly length: number,
    readonly source: LazyChunks,
    /** False for manifests that did not record lengths (then `length` is the largest it can be). */
    readonly exact = true,
  ) {}
}

/** Whether any lazy table exists in this thread: until then no chunk can be a ref (hot paths skip the look). */
export let lazyInUse = false;

/** A chunk slot's length in bytes, fetched or not. */
export const chunkLength = (c: Uint8Array | ChunkRef): number => (c instanceof ChunkRef ? (c.bytes?.length ?? c.length) : c.length);

/** A read or write needs chunks that are not fetched yet; the state is unchanged. */
export class ChunkNotFetchedError extends Error {
  readonly code = 'ENOTFETCHED';
  /** Hashes (hex) of the chunks needed. */
  readonly hashes: string[];
  /** Their total length in bytes. */
  readonly bytes: number;
  private readonly fetcher: () => Promise<void>;

  /**
   * `needed`: the refs, or (for an engine on another thread) their hashes and size and how to fetch
   * them there, with `what` then the whole message.
   */
  constructor(needed: ChunkRef[] | { hashes: string[]; bytes: number; fetch: () => Promise<void> }, what: string) {
    const remote = !Array.isArray(needed);
    const bytes = remote ? needed.bytes : needed.reduce((n, r) => n + r.length, 0);
    const count = remote ? needed.hashes.length : needed.length;
    super(remote ? what : `${what} needs ${count} chunk(s) (${bytes} bytes) not fetched from the store yet: await fs.prefetch(path), or run the call in fetching(() => ...) from @vws/inode-fs, which fetches and retries`);
    this.name = 'ChunkNotFetchedError';
    this.hashes = remote ? needed.hashes : needed.map((r) => r.hash);
    this.bytes = bytes;
    this.fetcher = remote ? needed.fetch : () => fetchRefs(needed);
  }

  /** Fetches the chunks this call needed (then the same call succeeds, unless the state changed). */
  fetch(): Promise<void> {
    return this.fetcher();
  }
}

/** Fetches refs, each from its own source (a state may mix chunks of several imports). */
export async function fetchRefs(refs: Iterable<ChunkRef>): Promise<void> {
  const bySource = new Map<LazyChunks, ChunkRef[]>();
  for (const r of refs) {
    if (r.bytes) continue;
    const list = bySource.get(r.source);
    if (list) list.push(r);
    else bySource.set(r.source, [r]);
  }
  await Promise.all([...bySource].map(([source, list]) => source.fetch(list)));
}

/**
 * Runs a synchronous engine call, fetching whatever chunks it needs and running it again (up to a few
 * times: a call may reach further chunks once the first are there). Other errors pass through.
 */
export async function fetching<T>(call: () => T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (e) {
      if (!(e instanceof ChunkNotFetchedError) || attempt >= 8) throw e;
      await e.fetch();
    }
  }
}

/** Gives the bytes of these chunks (hash hex -> bytes), each checked against its hash. */
export type ChunkLoader = (hashes: string[]) => Promise<Map<string, Uint8Array>>;

export interface LazyStats {
  /** Loader calls, chunks and bytes fetched so far. */
  calls: number;
  chunks: number;
  bytes: number;
}

/**
 * Where a lazily imported state's chunks come from: one table of refs by hash (so that a chunk shared by
 * many files, by several manifests of a chain or by several states, is fetched and held once) and a
 * loader. The table holds its refs weakly: a chunk no live state references is let go, bytes and all. Requests made in the
 * same turn of the event loop go out together, in batches of `batch` chunks; a chunk already on its
 * way is not asked for twice.
 */
export class LazyChunks {
  private readonly refs = new Map<string, WeakRef<ChunkRef>>();
  private readonly gone = new FinalizationRegistry<string>((hash) => {
    if (!this.refs.get(hash)?.deref()) this.refs.delete(hash);
  });
  private readonly inFlight = new Map<string, Promise<void>>();
  private queued: { refs: ChunkRef[]; done: Promise<void>; settle: (e?: unknown) => void } | null = null;
  readonly stats: LazyStats = { calls: 0, chunks: 0, bytes: 0 };

  constructor(
    private readonly load: ChunkLoader,
    private readonly batch = 512,
  ) {
    lazyInUse = true;
  }

  /** The ref for this hash (one per hash). */
  ref(hash: string, length: number, exact = true): ChunkRef {
    let r = this.refs.get(hash)?.deref();
    if (!r) {
      r = new ChunkRef(hash, length, this, exact);
      this.refs.set(hash, new WeakRef(r));
      this.gone.register(r, hash);
    }
    return r;
  }

  /** The ref for this hash, if this table has one. */
  get(hash: string): ChunkRef | undefined {
    return this.refs.get(hash)?.deref();
  }

  /** Gives a chunk its bytes ahead of any import (one fetched elsewhere), checked against its length. */
  put(hash: string, bytes: Uint8Array): ChunkRef {
    const r = this.ref(hash, bytes.length);
    if (!r.bytes) {
      if (r.exact ? bytes.length !== r.length : bytes.length > r.length) throw new Error(`chunk ${hash} has ${bytes.length} bytes, the manifest says ${r.length}`);
      r.bytes = bytes;
    }
    return r;
  }

  /** Refs not fetched yet, of those still referenced. */
  unfetched(): ChunkRef[] {
    const out: ChunkRef[] = [];
    for (const w of this.refs.values()) {
      const r = w.deref();
      if (r && !r.bytes) out.push(r);
    }
    return out;
  }

  /** Fetches these refs (those not fetched or on their way), batched with other requests of this turn. */
  fetch(refs: ChunkRef[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const r of refs) {
      if (r.bytes) continue;
      const flying = this.inFlight.get(r.hash);
      if (flying) {
        waits.push(flying);
        continue;
      }
      if (!this.queued) {
        let settle!: (e?: unknown) => void;
        const done = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
        this.queued = { refs: [], done, settle };
        setImmediate(() => void this.flush());
      }
      this.queued.refs.push(r);
      this.inFlight.set(r.hash, this.queued.done);
      waits.push(this.queued.done);
    }
    return Promise.all(new Set(waits)).then(() => {});
  }

  private async flush(): Promise<void> {
    const q = this.queued!;
    this.queued = null;
    try {
      for (let i = 0; i < q.refs.length; i += this.batch) {
        const part = q.refs.slice(i, i + this.batch);
        this.stats.calls++;
        const got = await this.load(part.map((r) => r.hash));
        for (const r of part) {
          const bytes = got.get(r.hash);
          if (!(bytes instanceof Uint8Array)) throw new Error(`chunk loader gave no bytes for chunk ${r.hash}`);
          if (r.exact ? bytes.length !== r.length : bytes.length > r.length) {
            throw new Error(`chunk ${r.hash} has ${bytes.length} bytes, the manifest says ${r.length}`);
          }
          r.bytes = bytes;
          this.stats.chunks++;
          this.stats.bytes += bytes.length;
        }
      }
      q.settle();
    } catch (e) {
      // Nothing half-done: refs not filled stay unfetched, and a later read asks again.
      q.settle(e);
    } finally {
      for (const r of q.refs) if (this.inFlight.get(r.hash) === q.done) this.inFlight.delete(r.hash);
    }
  }
}
