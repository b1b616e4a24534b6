// Command-line arguments as the bytes they are. Node decodes argv as UTF-8 and turns every byte that
// is not into U+FFFD, so `vws write $'\xff'` and `vws write $'\xfe'` would name one file. The kernel
// keeps the exact bytes in /proc/self/cmdline: each argument there is decoded with the engine's
// byte <-> name mapping instead, so a name that is not UTF-8 reaches the vault byte for byte.

import { readFileSync } from 'node:fs';
import { bytesToName, nameToBytes } from '@vws/inode-fs';

/**
 * process.argv.slice(2), losslessly where the kernel tells us the bytes. The user's arguments are
 * the last ones on the command line (node's own flags and the script come first); each is taken
 * only when Node's lossy decoding of it equals what Node gave, so a mismatch keeps Node's string.
 */
export function userArgs(argv: string[] = process.argv): string[] {
  const args = argv.slice(2);
  let raw: Buffer[];
  try {
    raw = fromLauncher() ?? split(readFileSync('/proc/self/cmdline'));
  } catch {
    return args; // not Linux, or no /proc: Node's decoding is all there is
  }
  if (raw.length < args.length) return args;
  const tail = raw.slice(raw.length - args.length);
  return args.map((a, i) => (tail[i].toString('utf8') === a ? bytesToName(tail[i]) : a));
}

/**
 * The bytes bin/vws.js saw, when it ran us through tsx (spawn() cannot pass raw bytes as arguments).
 * Taken out of the environment so that no command inherits it.
 */
function fromLauncher(): Buffer[] | undefined {
  const v = process.env.VWS_RAW_ARGV;
  delete process.env.VWS_RAW_ARGV;
  if (!v) return undefined;
  const parsed: unknown = JSON.parse(v);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) return undefined;
  return parsed.map((p: string) => Buffer.from(p, 'base64'));
}

function split(cmdline: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < cmdline.length; i++) {
    if (cmdline[i] === 0) {
      out.push(cmdline.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < cmdline.length) out.push(cmdline.subarray(start));
  return out;
}

/** Text for the terminal with names as their bytes (as ls prints them), not U+FFFD. JSON stays escaped. */
export function outputBytes(text: string): string | Uint8Array {
  if (!/[\ud800-\udfff]/.test(text)) return text;
  try {
    return nameToBytes(text);
  } catch {
    return text;
  }
}
