// File content as fixed-size chunks, shared copy-on-write between forks.
//
// Chunk i covers bytes [i * CHUNK, (i + 1) * CHUNK). A chunk may be shorter than CHUNK (the bytes past
// its end read as zeros) and may be absent (a hole). The chunk list stops at the last allocated chunk,
// so a sparse file costs nothing past its data. A chunk is written in place only while its owner
// matches the writer's epoch; otherwise it is copied first.
//
// A chunk may also be a ChunkRef (lazy.ts): known by hash and length, its bytes fetched on demand.
// Operations that need bytes a ref lacks throw ChunkNotFetchedError before changing anything.

import { ChunkNotFetchedError, ChunkRef, chunkLength, lazyInUse } from './lazy.js';

export const CHUNK = 16 * 1024;

export type Chunk = Uint8Array | ChunkRef | null;

const NONE: ChunkRef[] = [];

/** The bytes of a present chunk (a ref's once fetched: callers check with `need` first). */
const bytesOf = (c: Uint8Array | ChunkRef): Uint8Array => {
  if (!(c instanceof ChunkRef)) return c;
  if (!c.bytes) throw new Error(`internal: chunk ${c.hash} used before it was fetched`);
  return c.bytes;
};

export class Content {
  constructor(
    public owner: number,
    public size: number,
    public chunks: Chunk[],
    /** Per-chunk owner epochs, parallel to `chunks`. */
    public owners: number[],
    /** Bytes held in chunks (what st_blocks counts). */
    public allocated = 0,
  ) {}

  static empty(owner: number): Content {
    return new Content(owner, 0, [], []);
  }

  /** The content to write into for `owner`: this one if owned, else a copy sharing every chunk. */
  editable(owner: number): Content {
    if (this.owner === owner) return this;
    return new Content(owner, this.size, this.chunks.slice(), this.owners.slice(), this.allocated);
  }

  /** Unfetched refs among chunks first..last (inclusive) for which `needs(i, length)` holds. */
  private unfetched(first: number, last: number, needs: (i: number, length: number) => boolean = () => true): ChunkRef[] {
    if (!lazyInUse) return NONE;
    const out: ChunkRef[] = [];
    for (let i = first; i <= last && i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c instanceof ChunkRef && !c.bytes && needs(i, c.length)) out.push(c);
    }
    return out;
  }

  /** Every unfetched ref of this content. */
  missing(): ChunkRef[] {
    return this.unfetched(0, this.chunks.length - 1);
  }

  /** Throws ChunkNotFetchedError unless the chunks under [from, to) are all here (a write past EOF may still touch the last one). */
  need(from: number, to: number, what = 'this read'): void {
    if (to <= from) return;
    const refs = this.unfetched(Math.floor(from / CHUNK), Math.floor((to - 1) / CHUNK));
    if (refs.length) throw new ChunkNotFetchedError(refs, what);
  }

  /** Throws ChunkNotFetchedError unless truncating to `size` has the bytes it keeps of a cut chunk. */
  needForTruncate(size: number): void {
    const tail = size % CHUNK;
    if (size >= this.size || !tail) return;
    const last = Math.floor(size / CHUNK);
    const refs = this.unfetched(last, last, (_i, length) => length > tail);
    if (refs.length) throw new ChunkNotFetchedError(refs, 'this truncate');
  }

  /** Throws ChunkNotFetchedError unless zeroing [from, to) has the bytes of the chunks it cuts into. */
  needForZero(from: number, to: number): void {
    const refs = this.unfetched(Math.floor(from / CHUNK), Math.floor((to - 1) / CHUNK), (i, length) => {
      const a = Math.max(from, i * CHUNK) - i * CHUNK;
      const b = Math.min(to, (i + 1) * CHUNK) - i * CHUNK;
      return !(a === 0 && b >= length) && a < length;
    });
    if (refs.length) throw new ChunkNotFetchedError(refs, 'this fallocate');
  }

  read(position: number, length: number): Uint8Array {
    const end = Math.min(this.size, position + length);
    if (end <= position) return new Uint8Array(0);
    // Node's pooled allocator makes small reads cheap; readInto writes every byte.
    const out = Buffer.allocUnsafe(end - position);
    this.readInto(out, position);
    return out;
  }

  /** Copies bytes from position into out (up to its length or EOF); returns how many. */
  readInto(out: Uint8Array, position: number): number {
    const end = Math.min(this.size, position + out.length);
    if (end <= position) return 0;
    this.need(position, end);
    const first = Math.floor(position / CHUNK);
    const last = Math.floor((end - 1) / CHUNK);
    for (let i = first; i <= last; i++) {
      const slot = this.chunks[i];
      const chunk = slot ? bytesOf(slot) : null;
      const base = i * CHUNK;
      const from = Math.max(position, base) - base;
      const stop = Math.min(end, base + CHUNK) - base;
      const to = chunk ? Math.min(stop, chunk.length) : from;
      if (to > from) out.set(chunk!.subarray(from, to), base + from - position);
      // Holes and bytes past a short chunk read as zeros.
      const covered = Math.max(to, from);
      if (stop > covered) out.fill(0, base + covered - position, base + stop - position);
    }
    return end - position;
  }

  /** Writes data at position (the caller has made this content editable). Returns bytes newly allocated. */
  write(owner: number, position: number, data: Uint8Array): number {
    const end = position + data.length;
    this.need(position, end, 'this write');
    let grown = 0;
    let i = Math.floor(position / CHUNK);
    while (i * CHUNK < end) {
      const base = i * CHUNK;
      const from = Math.max(position, base) - base;
      const to = Math.min(end, base + CHUNK) - base;
      const slot = this.chunks[i] ?? null;
      let chunk = slot ? bytesOf(slot) : null;
      if (chunk === null || this.owners[i] !== owner || chunk.length < to) {
        // Copy-on-write, or grow: size the chunk to what is written (a full chunk once it is past half),
        // and a full chunk at once past the first: a file that long is mostly written whole, and
        // growing its chunks write by write (a pipe writes 4-8 KiB at a time) leaves a garbage buffer
        // per chunk that the GC takes late (measured: 1 GiB in 8 KiB writes held 1.6 GiB, now 1.0).
        const want = Math.max(to, chunk?.length ?? 0);
        const cap = want > CHUNK / 2 || i > 0 ? CHUNK : want;
        // Small chunks come from Node's pool; whatever the copy and the write below do not cover is zeroed.
        const next = Buffer.allocUnsafe(cap);
        const kept = chunk ? chunk.length : 0;
        if (chunk) next.set(chunk);
        if (from > kept) next.fill(0, kept, from);
        if (cap > Math.max(to, kept)) next.fill(0, Math.max(to, kept));
        grown += next.length - (chunk?.length ?? 0);
        while (this.chunks.length < i) {
          this.chunks.push(null);
          this.owners.push(0);
        }
        this.chunks[i] = next;
        this.owners[i] = owner;
        chunk = next;
      }
      chunk.set(data.subarray(base + from - position, base + to - position), from);
      i++;
    }
    if (end > this.size) this.size = end;
    this.allocated += grown;
    return grown;
  }

  /**
   * Zeroes [from, to) (the caller has made this content editable): chunks wholly inside become holes,
   * the edges are cleared in place (copied first when shared). Size is unchanged. Returns the
   * allocation change (negative: bytes freed).
   */
  zero(owner: number, from: number, to: number): number {
    this.needForZero(from, to);
    let delta = 0;
    const end = Math.min(to, this.chunks.length * CHUNK);
    for (let i = Math.floor(from / CHUNK); i * CHUNK < end; i++) {
      const slot = this.chunks[i];
      if (!slot) continue;
      const length = chunkLength(slot);
      const base = i * CHUNK;
      const a = Math.max(from, base) - base;
      const b = Math.min(to, base + CHUNK) - base;
      if (a === 0 && b >= length) {
        delta -= length;
        this.chunks[i] = null;
        this.owners[i] = 0;
      } else if (a < length) {
        const chunk = bytesOf(slot);
        const target = this.owners[i] === owner ? chunk : Buffer.from(chunk);
        target.fill(0, a, Math.min(b, chunk.length));
        this.chunks[i] = target;
        this.owners[i] = owner;
      }
    }
    while (this.chunks.length && this.chunks[this.chunks.length - 1] === null) {
      this.chunks.pop();
      this.owners.pop();
    }
    this.allocated += delta;
    return delta;
  }

  /** Sets the size; shrinking drops whole chunks and zeroes the cut tail. Returns the allocation change. */
  truncate(owner: number, size: number): number {
    if (size >= this.size) {
      this.size = size;
      return 0;
    }
    this.needForTruncate(size);
    let delta = 0;
    const keep = Math.ceil(size / CHUNK);
    for (let i = keep; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c) delta -= chunkLength(c);
    }
    this.chunks.length = Math.min(this.chunks.length, keep);
    this.owners.length = this.chunks.length;
    const tail = size % CHUNK;
    const last = keep - 1;
    const slot = tail && last < this.chunks.length ? this.chunks[last] : null;
    const chunk = slot ? bytesOf(slot) : null;
    if (chunk && chunk.length > tail) {
      // Keep only the live prefix so later growth reads zeros, as POSIX requires.
      const next = chunk.slice(0, tail);
      delta -= chunk.length - tail;
      this.chunks[last] = next;
      this.owners[last] = owner;
    }
    while (this.chunks.length && this.chunks[this.chunks.length - 1] === null) {
      this.chunks.pop();
      this.owners.pop();
    }
    this.size = size;
    this.allocated += delta;
    return delta;
  }
}
