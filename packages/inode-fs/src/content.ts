// File content as fixed-size chunks, shared copy-on-write between forks.
//
// Chunk i covers bytes [i * CHUNK, (i + 1) * CHUNK). A chunk may be shorter than CHUNK (the bytes past
// its end read as zeros) and may be absent (a hole). The chunk list stops at the last allocated chunk,
// so a sparse file costs nothing past its data. A chunk is written in place only while its owner
// matches the writer's epoch; otherwise it is copied first.

export const CHUNK = 16 * 1024;

export class Content {
  constructor(
    public owner: number,
    public size: number,
    public chunks: Array<Uint8Array | null>,
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
    const first = Math.floor(position / CHUNK);
    const last = Math.floor((end - 1) / CHUNK);
    for (let i = first; i <= last; i++) {
      const chunk = this.chunks[i];
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
    let grown = 0;
    let i = Math.floor(position / CHUNK);
    while (i * CHUNK < end) {
      const base = i * CHUNK;
      const from = Math.max(position, base) - base;
      const to = Math.min(end, base + CHUNK) - base;
      let chunk = this.chunks[i] ?? null;
      if (chunk === null || this.owners[i] !== owner || chunk.length < to) {
        // Copy-on-write, or grow: size the chunk to what is written (a full chunk once it is past half).
        const want = Math.max(to, chunk?.length ?? 0);
        const cap = want > CHUNK / 2 ? CHUNK : want;
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
    let delta = 0;
    const end = Math.min(to, this.chunks.length * CHUNK);
    for (let i = Math.floor(from / CHUNK); i * CHUNK < end; i++) {
      const chunk = this.chunks[i];
      if (!chunk) continue;
      const base = i * CHUNK;
      const a = Math.max(from, base) - base;
      const b = Math.min(to, base + CHUNK) - base;
      if (a === 0 && b >= chunk.length) {
        delta -= chunk.length;
        this.chunks[i] = null;
        this.owners[i] = 0;
      } else if (a < chunk.length) {
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
    let delta = 0;
    const keep = Math.ceil(size / CHUNK);
    for (let i = keep; i < this.chunks.length; i++) delta -= this.chunks[i]?.length ?? 0;
    this.chunks.length = Math.min(this.chunks.length, keep);
    this.owners.length = this.chunks.length;
    const tail = size % CHUNK;
    const last = keep - 1;
    const chunk = tail && last < this.chunks.length ? this.chunks[last] : null;
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
