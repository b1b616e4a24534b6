// Byte-level reader and writer for the snapshot format: little-endian fixed ints, LEB128 varints,
// length-prefixed strings and byte runs. Bounds are checked on read so damage surfaces as an error.

import { SnapshotError } from './errors.js';
import { bytesToName, nameToBytes } from './names.js';

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  /** Where the current, unfinished piece starts in buf. */
  private start = 0;
  /** Finished pieces: spans of metadata buffers and large byte runs kept by reference (no copy). */
  private segments: Uint8Array[] = [];

  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Room for n more bytes: a full buffer is closed as a piece and a new one started (nothing copied). */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.cut();
    this.buf = new Uint8Array(Math.max(n, this.buf.length * 2, 1 << 16));
    this.view = new DataView(this.buf.buffer);
    this.pos = this.start = 0;
  }

  private cut(): void {
    if (this.pos > this.start) this.segments.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }

  /** Unsigned LEB128, exact up to 2^53. */
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.raw(b);
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A name, target or attribute name as the bytes it stands for (escaped bytes come back raw). */
  str(s: string): void {
    this.bytes(nameToBytes(s));
  }

  /** Length-prefixed bytes; a large run is referenced, not copied, until finish(). */
  bytesRef(b: Uint8Array): void {
    this.varint(b.length);
    if (b.length < 4096) return this.raw(b);
    this.cut();
    this.segments.push(b);
  }

  /** Every piece written so far, in order. */
  pieces(): Uint8Array[] {
    return this.pos > this.start ? [...this.segments, this.buf.subarray(this.start, this.pos)] : [...this.segments];
  }

  /** Everything written, in one buffer allocated once. */
  finish(): Uint8Array {
    const pieces = this.pieces();
    if (pieces.length === 1) return pieces[0];
    let total = 0;
    for (const p of pieces) total += p.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export class Reader {
  private view: DataView;
  pos = 0;

  constructor(
    readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new SnapshotError(`snapshot is truncated: needed ${n} bytes at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
    throw new SnapshotError(`snapshot is damaged: varint too long at offset ${this.pos}`);
  }

  /** A view into the source (no copy). */
  bytes(): Uint8Array {
    const n = this.varint();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Bytes back to a name: valid UTF-8 as text, other bytes escaped (names.ts). Never lossy. */
  str(): string {
    return bytesToName(this.bytes());
  }
}
