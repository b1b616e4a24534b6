// The snapshot format: full snapshots and deltas against a parent state.
//
//   magic "VWSSNAP1" | u16 version | u8 kind (0 full, 1 delta) | u8 0 | [delta: 32-byte parent fingerprint]
//   varint chunkSize | varint nextIno | varint usedBytes | varint usedInodes
//   full:  varint count, inode records in ascending ino order
//   delta: varint removed count, removed inos | varint count, inode records (full or patch)
//   u32 CRC-32 of everything before it
//
// A chunk is written as u8 0 (a hole), u8 1 + length-prefixed bytes (inline), or u8 3 + varint length
// + the 32-byte SHA-256 of its bytes (a manifest: the same format with chunks referenced by hash, for a
// content-addressed store that keeps each chunk once; u8 2 + hash, without the length, is still read).
// A manifest imported lazily keeps each hashed chunk as a ChunkRef (lazy.ts) until it is read.
//
// Version 2 stores names, symlink targets and attribute names as the bytes they stand for (names.ts:
// bytes that are not UTF-8 round-trip exactly) and counts xattrs in usedBytes; version 1 (UTF-8 text
// only, xattrs not counted) is still read. Every restore checks the whole state (validate.ts): a valid
// checksum over an impossible state is refused; the usage counters are recomputed from the tree.
//
// Records are canonical (inodes by ino, entries and xattrs by name), so the same state always gives
// the same bytes. Owner epochs, handles and the links index are not stored: links are rebuilt from
// the directory entries on restore.

import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Reader, Writer } from './codec.js';
import { CHUNK, Content, type Chunk } from './content.js';
import { SnapshotError } from './errors.js';
import { PMap } from './hamt.js';
import { PVec } from './pvec.js';
import { Inode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Link } from './inode.js';
import { FILE_MAX, InodeFs, MAX_INO, ROOT_INO, type InodeFsOptions } from './inode-fs.js';
import { ChunkNotFetchedError, ChunkRef, LazyChunks } from './lazy.js';
import { checkState } from './validate.js';

const MAGIC = new TextEncoder().encode('VWSSNAP1');
const VERSION = 2;
/** Versions this build reads. */
const READS = new Set([1, 2]);
const FULL = 0;
const DELTA = 1;
/** Record body forms. */
const BODY_FULL = 0;
const BODY_PATCH = 1;
/** Frozen owner for restored structures: nobody writes in place into them. */
const FROZEN = 0;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedEntries(dir: Inode): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  dir.entries!.forEach((ino, name) => out.push([name as string, ino]));
  return out.sort((a, b) => byName(a[0], b[0]));
}

function writeHeader(w: Writer, fs: InodeFs, kind: number, parentFingerprint?: Uint8Array): void {
  w.raw(MAGIC);
  w.u16(VERSION);
  w.u8(kind);
  w.u8(0);
  if (parentFingerprint) w.raw(parentFingerprint);
  w.varint(CHUNK);
  w.varint(fs.nextIno);
  const used = fs.liveUsage();
  w.varint(used.bytes);
  w.varint(used.inodes);
}

function writeMeta(w: Writer, inode: Inode): void {
  w.varint(inode.ino);
  w.varint(inode.mode);
  w.varint(inode.uid);
  w.varint(inode.gid);
  w.varint(inode.nlink);
  w.varint(inode.rdev);
  w.i64(inode.atime);
  w.i64(inode.mtime);
  w.i64(inode.ctime);
  w.i64(inode.btime);
  const names = inode.xattrs ? [...inode.xattrs.keys()].sort(byName) : [];
  w.varint(names.length);
  for (const name of names) {
    w.str(name);
    w.bytes(inode.xattrs!.get(name)!);
  }
}

/** Writes a present chunk: inline in a snapshot, by hash in a manifest. */
type ChunkOut = (w: Writer, chunk: Uint8Array | ChunkRef, owner: number) => void;

/**
 * Writes chunks inline; unfetched ones are collected instead (the caller throws ChunkNotFetchedError
 * once it has them all, so that one fetch brings every chunk the encoding needs).
 */
function inlineOut(missing: ChunkRef[]): ChunkOut {
  return (w, chunk) => {
    const bytes = chunk instanceof ChunkRef ? chunk.bytes : chunk;
    if (!bytes) return void missing.push(chunk as ChunkRef);
    w.u8(1);
    w.bytesRef(bytes);
  };
}

function throwMissing(missing: ChunkRef[], what: string): void {
  if (missing.length) throw new ChunkNotFetchedError([...new Set(missing)], what);
}

/** Chunk i of content c. */
function writeChunk(w: Writer, c: Content, i: number, out: ChunkOut): void {
  const chunk = c.chunks[i];
  if (chunk === null) return w.u8(0);
  out(w, chunk, c.owners[i]);
}

/** A whole inode: metadata and body. */
function writeRecord(w: Writer, inode: Inode, out: ChunkOut): void {
  writeMeta(w, inode);
  w.u8(BODY_FULL);
  writeBody(w, inode, out);
}

function writeBody(w: Writer, inode: Inode, out: ChunkOut): void {
  const type = inode.mode & S_IFMT;
  if (type === S_IFREG) {
    const c = inode.content!;
    w.varint(c.size);
    w.varint(c.chunks.length);
    for (let i = 0; i < c.chunks.length; i++) writeChunk(w, c, i, out);
  } else if (type === S_IFDIR) {
    const entries = sortedEntries(inode);
    w.varint(entries.length);
    for (const [name, ino] of entries) {
      w.str(name);
      w.varint(ino);
    }
  } else if (type === S_IFLNK) {
    w.str(inode.target!);
  }
}

/** An inode that also exists in the parent: only the chunks or entries that changed. */
function writePatch(w: Writer, inode: Inode, before: Inode, out: ChunkOut): void {
  writeMeta(w, inode);
  const type = inode.mode & S_IFMT;
  if (type !== (before.mode & S_IFMT) || (type !== S_IFREG && type !== S_IFDIR)) {
    w.u8(BODY_FULL);
    return writeBody(w, inode, out);
  }
  w.u8(BODY_PATCH);
  if (type === S_IFREG) {
    const now = inode.content!;
    const was = before.content!;
    w.varint(now.size);
    w.varint(now.chunks.length);
    const changed: number[] = [];
    if (now !== was) for (let i = 0; i < now.chunks.length; i++) if (now.chunks[i] !== (was.chunks[i] ?? null)) changed.push(i);
    w.varint(changed.length);
    for (const i of changed) {
      w.varint(i);
      writeChunk(w, now, i, out);
    }
    return;
  }
  const set: Array<[string, number]> = [];
  const del: string[] = [];
  before.entries!.diff(inode.entries!, (name, _old, next) => {
    if (next === undefined) del.push(name as string);
    else set.push([name as string, next]);
  });
  set.sort((a, b) => byName(a[0], b[0]));
  del.sort(byName);
  w.varint(set.length);
  for (const [name, ino] of set) {
    w.str(name);
    w.varint(ino);
  }
  w.varint(del.length);
  for (const name of del) w.str(name);
}

function seal(w: Writer): Uint8Array {
  let crc = 0;
  for (const piece of w.pieces()) crc = crc32(piece, crc);
  w.u32(crc >>> 0);
  return w.finish();
}

/** Live inodes (orphans kept only by open handles are not part of a state), by ino. */
function liveInodes(fs: InodeFs): Inode[] {
  const out: Inode[] = [];
  fs.inodes.forEach((inode) => {
    if (inode.nlink > 0 || inode.ino === ROOT_INO) out.push(inode);
  });
  return out.sort((a, b) => a.ino - b.ino);
}

export function encodeFull(fs: InodeFs, chunkOut?: ChunkOut): Uint8Array {
  const missing: ChunkRef[] = [];
  const out = chunkOut ?? inlineOut(missing);
  const w = new Writer();
  writeHeader(w, fs, FULL);
  const inodes = liveInodes(fs);
  w.varint(inodes.length);
  for (const inode of inodes) writeRecord(w, inode, out);
  throwMissing(missing, 'a full snapshot');
  return seal(w);
}

const fingerprints = new WeakMap<InodeFs, { version: number; value: Uint8Array }>();

/** SHA-256 of the state's full snapshot, streamed without building it; cached per state version. */
export function fingerprint(fs: InodeFs): Uint8Array {
  const cached = fingerprints.get(fs);
  if (cached && cached.version === fs.version) return cached.value;
  const w = new Writer();
  writeHeader(w, fs, FULL);
  const inodes = liveInodes(fs);
  w.varint(inodes.length);
  const missing: ChunkRef[] = [];
  const out = inlineOut(missing);
  for (const inode of inodes) writeRecord(w, inode, out);
  throwMissing(missing, 'fingerprint()');
  const hash = createHash('sha256');
  for (const piece of w.pieces()) hash.update(piece);
  const value = new Uint8Array(hash.digest());
  fingerprints.set(fs, { version: fs.version, value });
  return value;
}

/** A caller's 32-byte name for a parent state (hex), checked instead of its fingerprint. */
function parentIdBytes(id: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new SnapshotError(`parentId must be 64 lowercase hex digits (32 bytes), got '${id.slice(0, 80)}'`);
  return new Uint8Array(Buffer.from(id, 'hex'));
}

export function encodeDelta(fs: InodeFs, parent: InodeFs, chunkOut?: ChunkOut, parentId?: string): Uint8Array {
  const missing: ChunkRef[] = [];
  const out = chunkOut ?? inlineOut(missing);
  const w = new Writer();
  writeHeader(w, fs, DELTA, parentId === undefined ? fingerprint(parent) : parentIdBytes(parentId));
  const removed: number[] = [];
  const changed: Inode[] = [];
  parent.inodes.diff(fs.inodes, (ino, before, after) => {
    const live = after && (after.nlink > 0 || after.ino === ROOT_INO);
    if (live) changed.push(after!);
    else if (before && (before.nlink > 0 || before.ino === ROOT_INO)) removed.push(ino as number);
  });
  removed.sort((a, b) => a - b);
  changed.sort((a, b) => a.ino - b.ino);
  w.varint(removed.length);
  for (const ino of removed) w.varint(ino);
  w.varint(changed.length);
  for (const inode of changed) {
    const before = parent.inodes.get(inode.ino);
    if (before && (before.nlink > 0 || before.ino === ROOT_INO)) writePatch(w, inode, before, out);
    else writeRecord(w, inode, out);
  }
  throwMissing(missing, 'a delta snapshot');
  return seal(w);
}

/** A state as a manifest (the snapshot format, chunks by hash) plus the chunks it references. */
export interface ManifestExport {
  manifest: Uint8Array;
  /** SHA-256 (hex) -> bytes of every chunk the manifest references and this state has the bytes of. */
  chunks: Map<string, Uint8Array>;
  /**
   * Hashes the manifest references whose bytes are not here (chunks of a lazy import not fetched
   * yet): the store they came from has them.
   */
  unfetched: Set<string>;
}

/**
 * A manifest export whose chunks are read out a batch at a time (`openExport`): a caller that writes
 * them somewhere (a store) holds one batch, not a second copy of the whole state. `close()` when done.
 */
export interface OpenExport {
  manifest: Uint8Array;
  /** Every chunk the manifest references that this state has the bytes of: [hash hex, length]. */
  chunks: Array<[string, number]>;
  unfetched: string[];
  /** The bytes of these chunks (of `chunks`), the caller's to keep. */
  read(hashes: string[]): Map<string, Uint8Array>;
  close(): void;
}

/**
 * Hashes of chunks that can no longer change: a chunk is written in place only by its owner epoch, and
 * an epoch that is not the state's current one never writes again (epochs are never reused).
 */
const chunkHashes = new WeakMap<Uint8Array, Uint8Array>();

export function encodeManifest(fs: InodeFs, parent?: InodeFs, parentId?: string): ManifestExport {
  const chunks = new Map<string, Uint8Array>();
  const unfetched = new Set<string>();
  const out: ChunkOut = (w, slot, owner) => {
    if (slot instanceof ChunkRef) {
      if (slot.bytes) chunks.set(slot.hash, slot.bytes);
      else unfetched.add(slot.hash);
      w.u8(3);
      w.varint(slot.bytes?.length ?? slot.length);
      w.raw(Buffer.from(slot.hash, 'hex'));
      return;
    }
    const chunk = slot;
    let hash = chunkHashes.get(chunk);
    if (!hash) {
      hash = new Uint8Array(createHash('sha256').update(chunk).digest());
      if (owner !== fs.epoch) chunkHashes.set(chunk, hash);
    }
    chunks.set(Buffer.from(hash.buffer, hash.byteOffset, 32).toString('hex'), chunk);
    w.u8(3);
    w.varint(chunk.length);
    w.raw(hash);
  };
  const manifest = parent ? encodeDelta(fs, parent, out, parentId) : encodeFull(fs, out);
  return { manifest, chunks, unfetched };
}

// ---------------------------------------------------------------- decoding

export interface RestoreOptions extends InodeFsOptions {
  /** The state a delta was taken against. */
  parent?: InodeFs;
  /**
   * Copy the bytes instead of adopting them. By default the restored state reads file content
   * straight from the given bytes (zero-copy: restore costs a checksum and a parse), so the caller
   * must not modify them afterwards.
   */
  copy?: boolean;
  /**
   * The name the delta was exported with (`exportManifest({ since, parentId })`): checked instead of
   * the parent's fingerprint, which costs a hash of the whole parent state. For stores that already
   * know which state a delta belongs to (e.g. by the parent manifest's hash).
   */
  parentId?: string;
}

/** Gives the bytes of a chunk a manifest references by SHA-256 (hex); throws if it has none. */
export type ChunkSource = (hash: string) => Uint8Array;

/** Where a manifest's chunks come from: bytes now (a source), or refs fetched later (lazy). */
type Chunks = { source?: ChunkSource; lazy?: LazyChunks };

function check(bytes: Uint8Array): { kind: number; r: Reader } {
  if (!(bytes instanceof Uint8Array)) throw new SnapshotError('snapshot must be a Uint8Array');
  if (bytes.length < MAGIC.length + 4 + 4) throw new SnapshotError(`snapshot is truncated: ${bytes.length} bytes`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SnapshotError('not a vws snapshot (bad magic)');
  }
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if ((crc32(body) >>> 0) !== stored) throw new SnapshotError('snapshot is damaged: checksum mismatch');
  const r = new Reader(bytes, bytes.length - 4);
  r.pos = MAGIC.length;
  const version = r.u16();
  if (!READS.has(version)) throw new SnapshotError(`snapshot version ${version} is not supported (this build reads ${[...READS].join(', ')})`);
  const kind = r.u8();
  r.u8();
  if (kind !== FULL && kind !== DELTA) throw new SnapshotError(`unknown snapshot kind ${kind}`);
  return { kind, r };
}

interface Header {
  nextIno: number;
  usedBytes: number;
  usedInodes: number;
}

function readHeader(r: Reader): Header {
  const chunk = r.varint();
  if (chunk !== CHUNK) throw new SnapshotError(`snapshot chunk size ${chunk} differs from this build's ${CHUNK}`);
  const h = { nextIno: r.varint(), usedBytes: r.varint(), usedInodes: r.varint() };
  if (h.nextIno <= ROOT_INO || h.nextIno > MAX_INO) throw new SnapshotError(`snapshot holds an impossible state: next inode number ${h.nextIno} (must be above every inode and at most ${MAX_INO})`);
  return h;
}

function readMeta(r: Reader): Inode {
  const ino = r.varint();
  const mode = r.varint();
  const uid = r.varint();
  const gid = r.varint();
  const nlink = r.varint();
  const rdev = r.varint();
  const atime = r.i64();
  const mtime = r.i64();
  const ctime = r.i64();
  const btime = r.i64();
  const nx = r.varint();
  let xattrs: Map<string, Uint8Array> | null = null;
  for (let i = 0; i < nx; i++) (xattrs ??= new Map()).set(r.str(), r.bytes().slice());
  return new Inode(FROZEN, ino, mode, uid, gid, nlink, rdev, atime, mtime, ctime, btime, xattrs, null, null, null, []);
}

/** `room`: the most bytes this chunk can hold (up to the file's size), for a manifest without lengths. */
function readChunk(r: Reader, from: Chunks, room: number): Chunk {
  const present = r.u8();
  if (present === 0) return null;
  if (present === 2 || present === 3) {
    const { source, lazy } = from;
    if (!source && !lazy) throw new SnapshotError('this is a manifest (chunks by hash): restore it with InodeFs.importManifest and a chunk source');
    const length = present === 3 ? r.varint() : -1;
    if (length > CHUNK) throw new SnapshotError(`snapshot is damaged: chunk of ${length} bytes`);
    r.pos += 32;
    if (r.pos > r.end) throw new SnapshotError(`snapshot is truncated: chunk hash at offset ${r.pos - 32}`);
    const hash = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos - 32, 32).toString('hex');
    if (lazy) return length >= 0 ? lazy.ref(hash, length) : lazy.ref(hash, Math.max(0, Math.min(CHUNK, room)), false);
    const chunk = source!(hash);
    if (!(chunk instanceof Uint8Array)) throw new SnapshotError(`chunk source gave no bytes for chunk ${hash}`);
    if (chunk.length > CHUNK) throw new SnapshotError(`chunk ${hash} has ${chunk.length} bytes, more than ${CHUNK}`);
    if (length >= 0 && chunk.length !== length) throw new SnapshotError(`chunk ${hash} has ${chunk.length} bytes, the manifest says ${length}`);
    return chunk;
  }
  if (present !== 1) throw new SnapshotError(`snapshot is damaged: bad chunk marker at offset ${r.pos - 1}`);
  const chunk = r.bytes();
  if (chunk.length > CHUNK) throw new SnapshotError(`snapshot is damaged: chunk of ${chunk.length} bytes`);
  return chunk;
}

function readContentFull(r: Reader, from: Chunks): Content {
  const size = r.varint();
  const n = r.varint();
  if (size > FILE_MAX) throw new SnapshotError(`snapshot holds an impossible state: a file of ${size} bytes`);
  if (n > Math.ceil(size / CHUNK)) throw new SnapshotError(`snapshot is damaged: ${n} chunks for ${size} bytes`);
  // Each chunk takes at least one byte: a count beyond what is left is damage, not an allocation.
  if (n > r.end - r.pos) throw new SnapshotError(`snapshot is truncated: ${n} chunks at offset ${r.pos}`);
  const chunks: Chunk[] = new Array(n);
  let allocated = 0;
  for (let i = 0; i < n; i++) {
    const c = (chunks[i] = readChunk(r, from, size - i * CHUNK));
    if (c) allocated += c.length;
  }
  return new Content(FROZEN, size, chunks, new Array(n).fill(FROZEN), allocated);
}

/** Child ino -> its links, collected while directories are read (records by ino, entries by name). */
type LinkIndex = Map<number, Link[]>;

function readDirFull(r: Reader, owner: number, dirIno: number, links?: LinkIndex): PMap<number> {
  const n = r.varint();
  let entries = PMap.empty<number>(owner);
  for (let i = 0; i < n; i++) {
    const name = r.str();
    const child = r.varint();
    entries = entries.set(owner, name, child);
    if (links) {
      const l = links.get(child);
      if (l) l.push([dirIno, name]);
      else links.set(child, [[dirIno, name]]);
    }
  }
  return entries;
}

function readBodyFull(r: Reader, inode: Inode, owner: number, links: LinkIndex | undefined, from: Chunks): void {
  const type = inode.mode & S_IFMT;
  if (type === S_IFREG) inode.content = readContentFull(r, from);
  else if (type === S_IFDIR) inode.entries = readDirFull(r, owner, inode.ino, links);
  else if (type === S_IFLNK) inode.target = r.str();
}

/**
 * Checks the whole state and adopts counters recomputed from the tree: the header's are never trusted
 * (a writer that counted differently, or a crafted header, cannot make the quota lie).
 */
function finishState(fs: InodeFs): void {
  const used = checkState(fs);
  fs.usedBytes = used.usedBytes;
  fs.usedInodes = used.usedInodes;
}

function validate(fs: InodeFs): void {
  const root = fs.inodes.get(ROOT_INO);
  if (!root || !root.isDir) throw new SnapshotError('snapshot is damaged: no root directory');
  fs.inodes.forEach((inode) => {
    if (inode.ino >= fs.nextIno) throw new SnapshotError(`snapshot is damaged: inode ${inode.ino} beyond next inode ${fs.nextIno}`);
    inode.entries?.forEach((child, name) => {
      if (!fs.inodes.get(child)) throw new SnapshotError(`snapshot is damaged: entry '${String(name)}' in inode ${inode.ino} names missing inode ${child}`);
    });
  });
}

/**
 * Checks a fully decoded state and gives every inode its links, in one pass: the links were collected
 * while reading (directories come by ino, their entries by name: the order rebuildLinks sorts into).
 */
function validateAndLink(fs: InodeFs, links: LinkIndex): void {
  const root = fs.inodes.get(ROOT_INO);
  if (!root || !root.isDir) throw new SnapshotError('snapshot is damaged: no root directory');
  fs.inodes.forEach((inode) => {
    if (inode.ino >= fs.nextIno) throw new SnapshotError(`snapshot is damaged: inode ${inode.ino} beyond next inode ${fs.nextIno}`);
    inode.links = links.get(inode.ino) ?? [];
  });
  for (const [child, l] of links) {
    if (!fs.inodes.get(child)) throw new SnapshotError(`snapshot is damaged: entry '${l[0][1]}' in inode ${l[0][0]} names missing inode ${child}`);
  }
  root.links = [[ROOT_INO, ''], ...(links.get(ROOT_INO) ?? [])];
}

export function decode(bytes: Uint8Array, options: RestoreOptions = {}, source?: ChunkSource, lazy?: LazyChunks): InodeFs {
  const { kind, r } = check(bytes);
  const from: Chunks = { source, lazy };
  if (kind === DELTA) return decodeDelta(r, options, from);
  // Restored chunks are views into the bytes (adopted, or a private copy when asked): a write copies
  // the chunk it touches first, so the bytes themselves are never written.
  const own = options.copy ? Buffer.from(bytes) : bytes;
  const rr = new Reader(own, r.end);
  rr.pos = r.pos;
  const h = readHeader(rr);
  const fs = new InodeFs(options, { inodes: PVec.empty(FROZEN), nextIno: h.nextIno, usedBytes: 0, usedInodes: 0 });
  const owner = fs.epoch;
  let table = PVec.empty<Inode>(owner);
  const links: LinkIndex = new Map();
  const n = rr.varint();
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const inode = readMeta(rr);
    if (inode.ino <= prev) throw new SnapshotError(`snapshot is damaged: inode ${inode.ino} out of order (or a duplicate inode number)`);
    if (inode.ino >= h.nextIno) throw new SnapshotError(`snapshot holds an impossible state: inode ${inode.ino} is not below the next inode number ${h.nextIno}`);
    prev = inode.ino;
    if (rr.u8() !== BODY_FULL) throw new SnapshotError(`snapshot is damaged: patch record in a full snapshot`);
    readBodyFull(rr, inode, owner, links, from);
    table = table.set(owner, inode.ino, inode);
  }
  if (rr.pos !== rr.end) throw new SnapshotError(`snapshot is damaged: ${rr.end - rr.pos} trailing bytes`);
  fs.inodes = table;
  validateAndLink(fs, links);
  finishState(fs);
  return fs;
}

function decodeDelta(r0: Reader, options: RestoreOptions, from: Chunks): InodeFs {
  const parent = options.parent;
  if (!parent) throw new SnapshotError('this is a delta snapshot: restore it with { parent } set to the state it was taken against');
  const expected = r0.buf.subarray(r0.pos, r0.pos + 32);
  const actual = options.parentId === undefined ? fingerprint(parent) : parentIdBytes(options.parentId);
  if (expected.length !== 32 || !expected.every((b, i) => b === actual[i])) {
    throw new SnapshotError('delta snapshot was taken against a different parent state');
  }
  const own = options.copy ? Buffer.from(r0.buf.subarray(0, r0.end + 4)) : r0.buf;
  const r = new Reader(own, r0.end);
  r.pos = r0.pos + 32;
  const h = readHeader(r);
  const state = parent.shareState();
  const fs = new InodeFs({ ...parent.options, ...options }, state);
  const owner = fs.epoch;
  let table = state.inodes;
  // Drop orphans the parent keeps for its open handles.
  parent.inodes.forEach((inode) => {
    if (inode.nlink === 0 && inode.ino !== ROOT_INO) table = table.delete(owner, inode.ino);
  });
  const removed = r.varint();
  for (let i = 0; i < removed; i++) table = table.delete(owner, r.varint());
  const n = r.varint();
  const touchedDirs: Inode[] = [];
  const upserted: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const inode = readMeta(r);
    if (seen.has(inode.ino)) throw new SnapshotError(`snapshot is damaged: inode ${inode.ino} appears twice`);
    seen.add(inode.ino);
    if (inode.ino < ROOT_INO || inode.ino >= h.nextIno) throw new SnapshotError(`snapshot holds an impossible state: inode ${inode.ino} is not below the next inode number ${h.nextIno}`);
    const form = r.u8();
    if (form === BODY_FULL) {
      readBodyFull(r, inode, owner, undefined, from);
    } else if (form === BODY_PATCH) {
      const before = parent.inodes.get(inode.ino);
      if (!before || (before.mode & S_IFMT) !== (inode.mode & S_IFMT)) throw new SnapshotError(`snapshot is damaged: patch for inode ${inode.ino} has no base`);
      if (before.content) {
        const size = r.varint();
        const count = r.varint();
        if (size > FILE_MAX || count > Math.ceil(size / CHUNK)) throw new SnapshotError(`snapshot is damaged: ${count} chunks for ${size} bytes`);
        const c = new Content(owner, size, before.content.chunks.slice(0, count), before.content.owners.slice(0, count).fill(FROZEN));
        while (c.chunks.length < count) {
          c.chunks.push(null);
          c.owners.push(FROZEN);
        }
        const k = r.varint();
        for (let j = 0; j < k; j++) {
          const idx = r.varint();
          if (idx >= count) throw new SnapshotError(`snapshot is damaged: chunk index ${idx} of ${count}`);
          c.chunks[idx] = readChunk(r, from, size - idx * CHUNK);
        }
        c.owners.fill(FROZEN);
        c.allocated = c.chunks.reduce((s, ch) => s + (ch?.length ?? 0), 0);
        inode.content = c;
      } else {
        let entries = before.entries!;
        const sets = r.varint();
        for (let j = 0; j < sets; j++) {
          const name = r.str();
          entries = entries.set(owner, name, r.varint());
        }
        const dels = r.varint();
        for (let j = 0; j < dels; j++) entries = entries.delete(owner, r.str());
        inode.entries = entries;
      }
    } else {
      throw new SnapshotError(`snapshot is damaged: bad record form ${form}`);
    }
    if (inode.isDir) touchedDirs.push(inode);
    upserted.push(inode.ino);
    table = table.set(owner, inode.ino, inode);
  }
  if (r.pos !== r.end) throw new SnapshotError(`snapshot is damaged: ${r.end - r.pos} trailing bytes`);
  fs.inodes = table;
  fs.nextIno = h.nextIno;
  validate(fs);
  relinkAfterDelta(fs, parent, touchedDirs, upserted, owner);
  finishState(fs);
  return fs;
}

/**
 * Patches the links index after a delta: copies every inode whose link set may have changed (it was
 * upserted, or named by an entry of a changed directory) and recomputes its links from the entries.
 */
function relinkAfterDelta(fs: InodeFs, parent: InodeFs, dirs: Inode[], upserted: number[], owner: number): void {
  const affected = new Set<number>(upserted);
  for (const dir of dirs) {
    const before = parent.inodes.get(dir.ino);
    if (before?.entries) {
      before.entries.diff(dir.entries!, (_name, a, b) => {
        if (a !== undefined) affected.add(a);
        if (b !== undefined) affected.add(b);
      });
    } else {
      dir.entries!.forEach((child) => affected.add(child));
    }
  }
  // An affected inode keeps its parent-state links outside the changed dirs, and gains their entries.
  const changedDirs = new Set(dirs.map((d) => d.ino));
  const fresh = new Map<number, Link[]>();
  for (const dir of dirs) {
    dir.entries!.forEach((child, name) => {
      if (!affected.has(child)) return;
      const list = fresh.get(child) ?? [];
      list.push([dir.ino, name as string]);
      fresh.set(child, list);
    });
  }
  for (const ino of affected) {
    const inode = fs.inodes.get(ino);
    if (!inode) continue;
    const old = parent.inodes.get(ino);
    const links: Link[] = [];
    for (const link of old?.links ?? []) {
      if (!changedDirs.has(link[0]) && fs.inodes.get(link[0])) links.push(link);
    }
    links.push(...(fresh.get(ino) ?? []));
    const copy = inode.owner === owner ? inode : inode.clone(owner);
    copy.links = ino === ROOT_INO ? [[ROOT_INO, '']] : links;
    fs.inodes = fs.inodes.set(owner, ino, copy);
  }
}
