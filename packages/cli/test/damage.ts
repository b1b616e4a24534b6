// Shared by the damaged-vault tests (vault-cas.test.ts, store-damage.test.ts): the commands a user
// may run on a vault, and a listing of everything under a directory to see that nothing changed.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Each command a user may run on vault `v`, with arguments that succeed on a healthy one (`out`: a scratch dir). */
export const commands = (out: string): string[][] => [
  ['ls', '/'], ['cat', '/f.txt'], ['write', '/g.txt', 'x'], ['mkdir', '/m'], ['rm', '/f.txt'], ['stat', '/f.txt'],
  ['checkpoint', 'save', 'c2'], ['checkpoint', 'list'], ['checkpoint', 'restore', 'c1'], ['diff'], ['patch'],
  ['exec', '--', 'true'], ['stats'], ['tree', '/'], ['cp', '/f.txt', '/h.txt'], ['mv', '/f.txt', '/k.txt'],
  ['grep', 'precious', '/'], ['find', '/'], ['export', join(out, 'exported')], ['log'], ['quota'], ['gc'],
  ['vault', 'fork', 'v', 'v2'],
];

/** Names, kinds and contents of everything under dir (but lock files), to see that nothing changed. */
export function listing(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.name.endsWith('.lock') || e.name === 'lock' || e.name === 'daemon') continue;
    const st = lstatSync(p);
    if (st.isDirectory()) listing(p, out);
    else out.push(`${p} ${st.mode} ${st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : ''}`);
  }
  return out;
}
