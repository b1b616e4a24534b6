// Names are bytes (as Linux has them); the engine keeps them as JS strings. The mapping between the
// two is reversible: valid UTF-8 decodes as usual, and each byte that is not part of valid UTF-8
// becomes a lone surrogate U+DC80..U+DCFF (the byte plus 0xDC00, as Python's surrogateescape does).
// A string is a name only if it is what its bytes decode to ("canonical"): that rules out lone
// surrogates outside the reserved range, and escaped bytes that would spell valid UTF-8 (which would
// alias the decoded name). Every boundary where names become bytes (FUSE, snapshots, host
// directories, argv) goes through toBytes/fromBytes.

const strict = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** The byte string a name (or a path, or a symlink target) stands for. Throws on unrepresentable text. */
export function nameToBytes(s: string): Uint8Array {
  if (!hasSurrogate(s)) return encoder.encode(s);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        pushUtf8(out, 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) out.push(c - 0xdc00);
    else if (c >= 0xd800 && c <= 0xdfff) throw new RangeError(`lone surrogate U+${c.toString(16).toUpperCase()} at index ${i} has no byte form`);
    else pushUtf8(out, c);
  }
  return Uint8Array.from(out);
}

/** The name a byte string stands for: valid UTF-8 as text, every other byte escaped. */
export function bytesToName(b: Uint8Array): string {
  try {
    return strict.decode(b);
  } catch {
    // Decode the valid runs, escape the bytes that are not part of one.
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = validSeqLength(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]);
      i++;
    } else {
      out += strict.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** Whether `s` is a name the engine can hold: the decoding of its own bytes. */
export function isCanonicalName(s: string): boolean {
  if (!hasSurrogate(s)) return true;
  try {
    return bytesToName(nameToBytes(s)) === s;
  } catch {
    return false;
  }
}

/** Byte length of a name, without allocating for plain text. */
export function byteLength(s: string): number {
  if (!hasSurrogate(s)) return Buffer.byteLength(s);
  return nameToBytes(s).length;
}

const SURROGATE = /[\ud800-\udfff]/;
function hasSurrogate(s: string): boolean {
  return SURROGATE.test(s);
}

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** Length of the valid UTF-8 sequence starting at i, or 0 (RFC 3629: no overlongs, no surrogates). */
function validSeqLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
