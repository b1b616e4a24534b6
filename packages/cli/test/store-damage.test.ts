// Damage to the store's own records ($VWS_HOME/store: a workspace's refs.json, a checkpoint's .json,
// .refs and .manifest, chunk files, lock files, the store's directories), through every command of the
// real `vws`: each within 5 s, exit 4 with one line naming the file where the command needs what is
// damaged (exit 0 where it does not, leaving the damaged file as it was), and $VWS_HOME unchanged.
//
// Each (damage, command) pair runs in its own copy of one prepared $VWS_HOME, so the commands are
// independent and run a few at a time.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands, listing } from './damage.js';
import { run, stopDaemons } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'vws-store-damage-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The prepared home: vault v with /f.txt ('precious'), checkpoint c1, then /f.txt written again. */
const template = join(scratch, 'template');
/** Paths in it (relative to the home) of the records the cases damage. */
const at = { refs: '', record: '', c1Record: '', refsList: '', manifest: '', chunk: '', fan: '', ws: '' };

const vws = async (home: string, args: string[]) => {
  const r = await run(home, ['--json', ...args], { env: { VWS_DAEMON: '0' } });
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout || '{}');
};

beforeAll(async () => {
  mkdirSync(template);
  await vws(template, ['vault', 'create', 'v']);
  await vws(template, ['--vault', 'v', 'write', '/f.txt', 'precious']);
  await vws(template, ['--vault', 'v', 'checkpoint', 'save', 'c1']);
  await vws(template, ['--vault', 'v', 'write', '/f.txt', 'precious']); // the head differs from c1 only in times
  const meta = JSON.parse(readFileSync(join(template, 'vaults/v/meta.json'), 'utf8'));
  at.ws = `store/workspaces/${Buffer.from(meta.workspace).toString('base64url')}`;
  at.refs = `${at.ws}/refs.json`;
  const head = JSON.parse(readFileSync(join(template, at.refs), 'utf8')).head;
  at.record = `store/checkpoints/${head}.json`;
  at.c1Record = `store/checkpoints/${meta.checkpoints.c1.id}.json`;
  at.refsList = `store/checkpoints/${head}.refs`;
  at.manifest = `store/checkpoints/${head}.manifest`;
  const hash = createHash('sha256').update('precious').digest('hex');
  at.fan = `store/chunks/${hash.slice(0, 2)}`;
  at.chunk = `${at.fan}/${hash}`;
  // The head's record lists that chunk: a damaged .refs is one GC would act on.
  expect(readFileSync(join(template, at.refsList), 'utf8')).toBe(hash);
}, 60_000);

// ---- kinds of damage, each a function of the damaged path

const replace = (make: (p: string) => void) => (p: string) => {
  rmSync(p, { recursive: true, force: true });
  make(p);
};
const ok = (r: ReturnType<typeof spawnSync>) => expect(r.status, String(r.stderr)).toBe(0);
const kinds: Record<string, (p: string) => void> = {
  empty: (p) => writeFileSync(p, ''),
  truncated: (p) => writeFileSync(p, readFileSync(p).subarray(0, readFileSync(p).length >> 1)),
  'a flipped bit': (p) => {
    const b = readFileSync(p);
    b[b.length >> 1]! ^= 1;
    writeFileSync(p, b);
  },
  'a foreign file': (p) => writeFileSync(p, Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR not what belongs here', 'latin1')),
  missing: (p) => rmSync(p, { recursive: true, force: true }),
  'a FIFO': replace((p) => ok(spawnSync('mkfifo', [p]))),
  'a device': replace((p) => ok(spawnSync('mknod', [p, 'c', '1', '3']))),
  'a symlink to /dev/zero': replace((p) => symlinkSync('/dev/zero', p)),
  'a symlink loop': replace((p) => symlinkSync(p, p)),
  'a directory': replace((p) => mkdirSync(p)),
};
const fileKinds = Object.keys(kinds);
/** JSON of the wrong shape, for the JSON records. */
const malformed = (json: string) => (p: string) => writeFileSync(p, json);

// ---- which commands need which record (the others must succeed and leave the damage alone)

const all = () => true;
/** Commands that load the tree (its records, manifests and chunks): all but naming the head and forking. */
const loads = (c: string[]) => !(c[0] === 'checkpoint' && c[1] === 'save') && c[0] !== 'vault';
/** A checkpoint's chunk list is read by GC alone (what to keep). */
const gcOnly = (c: string[]) => c[0] === 'gc';
/** Commands that move a head or a name in the store: they take the store's lock. */
const commits = (c: string[]) => ['write', 'mkdir', 'rm', 'checkpoint', 'cp', 'mv', 'gc', 'vault'].includes(c[0]!) && c[1] !== 'list';

interface Case {
  what: string;
  path: () => string;
  damage: (p: string) => void;
  needs: (c: string[]) => boolean;
  /** What the error line names (default: the damaged path). */
  names?: () => RegExp;
  /** Against every command (else against one of each kind of command: a damage of one kind reaches
   * the same reads whichever command makes them, and the whole matrix would take minutes). */
  every: boolean;
}
/** One command of each kind: reads contents, commits, names a state, forks, mounts, collects. */
const representative = (c: string[]) => ['cat', 'write', 'exec', 'gc', 'vault'].includes(c[0]!) || (c[0] === 'checkpoint' && c[1] === 'save');
/** Which kinds of damage go against every command. */
const everyFor = new Set(['a FIFO', 'a file']);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const cases: Case[] = [];
const target = (label: string, path: () => string, needs: (c: string[]) => boolean, only: string[], extra: Record<string, (p: string) => void> = {}, names?: () => RegExp) => {
  for (const k of [...only, ...Object.keys(extra)]) cases.push({ what: `${label} is ${k}`, path, damage: extra[k] ?? kinds[k]!, needs, names, every: everyFor.has(k) });
};
/** A flipped bit where it matters: in a record's manifest checksum (a flip in a field nothing reads, like
 * `workspace`, goes unnoticed: records carry no checksum of their own). The bit is one of the hash's
 * own (a hex digit's value), so the record still has the shape of one: flipping the character's
 * lowest bit instead turned 'a' or 'f' into no hex digit at all, a damaged record, not a damaged manifest. */
const flipIn = (field: string) => (p: string) => {
  const b = readFileSync(p);
  const i = b.indexOf(`"${field}":"`) + field.length + 8;
  b[i] = ((Number.parseInt(String.fromCharCode(b[i]!), 16) ^ 1).toString(16)).charCodeAt(0);
  writeFileSync(p, b);
};
target('refs.json', () => at.refs, all, fileKinds, { 'valid JSON of the wrong shape': malformed('{"head":42,"names":[]}') });
target('the head checkpoint record', () => at.record, all, fileKinds.filter((k) => k !== 'a flipped bit'), { 'valid JSON of the wrong shape': malformed('{"id":"x","depth":"deep"}') });
// A flipped bit in the manifest checksum shows as a damaged manifest: what can be told.
target('the head checkpoint record', () => at.record, loads, [], { 'a flipped bit in its manifest checksum': flipIn('manifestHash') }, () => new RegExp(`${esc(at.manifest)} is damaged`));
target('the head chunk list (.refs)', () => at.refsList, gcOnly, fileKinds, { 'a line that is no hash': malformed('not-a-hash\n') });
target('the head manifest', () => at.manifest, loads, ['a FIFO', 'a device', 'a symlink to /dev/zero', 'a symlink loop', 'a directory', 'missing', 'a foreign file']);
target('a chunk', () => at.chunk, loads, fileKinds.filter((k) => k !== 'a flipped bit'), { 'a flipped bit': (p) => writeFileSync(p, 'precioup') });
// The store's lock: not a regular file is damage; a regular one naming no live holder is a dead
// holder's (kill -9 leaves it) and is broken: every command succeeds.
target('the store lock', () => 'store/lock', commits, ['a FIFO', 'a device', 'a symlink to /dev/zero', 'a symlink loop', 'a directory']);
target('the store lock', () => 'store/lock', () => false, [], { 'a file naming no live holder': (p) => writeFileSync(p, 'garbage, no pid'), 'an empty file': (p) => writeFileSync(p, '') });
// The vault's lock (a directory, proper-lockfile's): anything else in its place is damage; an empty
// directory is a dead holder's lock, broken once stale (2 s).
const vaultLock = () => 'vaults/v.lock';
const lockKinds = ['a FIFO', 'a device', 'a symlink to /dev/zero', 'a symlink loop'];
target("the vault's lock", vaultLock, all, lockKinds, { 'a file': (p) => writeFileSync(p, 'not a directory') });
target("the vault's lock", vaultLock, () => false, [], { 'an empty directory': (p) => mkdirSync(p) });

// Foreign files added to the store: GC, which reads every entry, refuses what it cannot account for
// (it would otherwise take a stranger's file for its own); every other command leaves them alone.
const add = (make: (p: string) => void) => ({ 'a foreign file added': make });
target('store/chunks/notes', () => 'store/chunks/notes', gcOnly, [], add((p) => writeFileSync(p, 'a stranger')));
target('store/checkpoints/notes.json', () => 'store/checkpoints/notes.json', gcOnly, [], add((p) => writeFileSync(p, '{"what":"a stranger"}')));
target('store/workspaces/notes', () => 'store/workspaces/notes', () => false, [], add((p) => writeFileSync(p, 'a stranger')));

// The store's directories: a file, or a link (to a copy, or in a loop), in a directory's place.
const dirKinds: Record<string, (p: string) => void> = {
  'a file': replace((p) => writeFileSync(p, 'not a directory')),
  'a symlink to a copy': (p) => {
    cpSync(p, `${p}-copy`, { recursive: true });
    rmSync(p, { recursive: true });
    symlinkSync(`${p}-copy`, p);
  },
  'a symlink loop': replace((p) => symlinkSync(p, p)),
};
for (const [label, path, needs] of [
  ['store/', () => 'store', all],
  ['store/chunks/', () => 'store/chunks', all],
  ['store/checkpoints/', () => 'store/checkpoints', all],
  ['store/workspaces/', () => 'store/workspaces', all],
  ["the vault's workspace directory", () => at.ws, all],
  ["the chunk's fan-out directory", () => at.fan, (c: string[]) => loads(c) || c[0] === 'gc'],
] as const) {
  target(label, path, needs, [], dirKinds);
}

describe('damaged store records: every command within 5 s, exit 4 and one line naming the file where it needs it, nothing changed', () => {
  for (const c of cases) {
    it(c.what, async () => {
      const failures = await runAll(c);
      expect(failures).toEqual([]);
    }, 120_000);
  }
});

describe('the exec daemon while a vault with damaged store records is opened', () => {
  it('serves a healthy vault in its usual time, and says what is damaged in the other', async () => {
    const home = join(scratch, 'daemon');
    mkdirSync(home);
    try {
      for (const v of ['ok', 'bad']) {
        await vws(home, ['vault', 'create', v]);
        await vws(home, ['--vault', v, 'write', '/f.txt', `${v} precious`]);
      }
      const up = await run(home, ['--vault', 'ok', 'exec', '--', 'true']);
      expect(up.code, up.stderr).toBe(0); // the daemon is up
      const meta = JSON.parse(readFileSync(join(home, 'vaults/bad/meta.json'), 'utf8'));
      const ws = `store/workspaces/${Buffer.from(meta.workspace).toString('base64url')}`;
      const head = JSON.parse(readFileSync(join(home, ws, 'refs.json'), 'utf8')).head;
      const hash = createHash('sha256').update('bad precious').digest('hex');
      // Records of the bad vault alone (the store's shared lock and directories would be every vault's trouble).
      const damages: Array<[string, string]> = [
        [`${ws}/refs.json`, 'a FIFO'],
        [`store/checkpoints/${head}.json`, 'a symlink to /dev/zero'],
        [`store/checkpoints/${head}.manifest`, 'a FIFO'],
        [`store/chunks/${hash.slice(0, 2)}/${hash}`, 'a device'],
        ['vaults/bad.lock', 'a FIFO'],
        [`${ws}/refs.json`, 'valid JSON of the wrong shape'],
      ];
      // A usual exec on the healthy vault, for the bound below.
      let t = Date.now();
      expect((await run(home, ['--vault', 'ok', 'exec', '--', 'cat', 'f.txt'])).code).toBe(0);
      const usual = Date.now() - t;
      for (const [rel, kind] of damages) {
        const path = join(home, rel);
        const saved = join(scratch, 'saved');
        const had = existsSync(path);
        if (had) cpSync(path, saved);
        (kind === 'valid JSON of the wrong shape' ? malformed('{"head":[]}') : kinds[kind]!)(path);
        t = Date.now();
        const [bad, good] = await Promise.all([run(home, ['--vault', 'bad', 'exec', '--', 'true']), run(home, ['--vault', 'ok', 'exec', '--', 'cat', 'f.txt'])]);
        const took = Date.now() - t;
        expect(bad.code, `${rel} ${kind}: ${bad.stderr}`).toBe(4);
        expect(bad.stderr.trim().split('\n')).toHaveLength(1);
        expect(bad.stderr).toContain(rel);
        expect(good.code, good.stderr).toBe(0);
        expect(good.stdout).toBe('ok precious');
        // Its usual time, with room for a loaded machine; never the bad vault's hang.
        expect(took, `${rel} ${kind}: usual ${usual} ms`).toBeLessThan(Math.max(5_000, 4 * usual));
        rmSync(path, { recursive: true, force: true });
        if (had) cpSync(saved, path);
      }
      expect((await run(home, ['--vault', 'bad', 'exec', '--', 'cat', 'f.txt'])).stdout).toBe('bad precious');
      const status = await run(home, ['--json', 'daemon', 'status']);
      expect(status.code, status.stderr).toBe(0);
    } finally {
      await stopDaemons(home);
    }
  }, 120_000);
});

/** Runs every command on its own damaged copy of the template; returns what went wrong, one line each. */
async function runAll(c: Case): Promise<string[]> {
  const failures: string[] = [];
  const todo = commands('').map((args, i) => ({ args, i })).filter(({ args }) => c.every || representative(args));
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const { i } = todo[next++]!;
      const home = join(scratch, `${c.what.replace(/\W+/g, '-')}-${i}`);
      cpSync(template, home, { recursive: true });
      const out = join(home, 'out');
      const args = commands(out)[i]!;
      const path = join(home, c.path());
      c.damage(path);
      mkdirSync(out);
      const before = listing(home);
      const t0 = Date.now();
      const r = await run(home, ['--vault', 'v', ...args], { env: { VWS_DAEMON: '0' } });
      const ms = Date.now() - t0;
      const fail = (why: string) => failures.push(`vws ${args.join(' ')}: ${why} (exit ${r.code}, ${ms} ms): ${r.stderr.trim()}`);
      const want = c.needs(args) ? 4 : 0;
      if (ms > 5_000) fail('took over 5 s');
      if (r.code !== want) fail(`exit ${r.code}, expected ${want}`);
      else if (want === 4) {
        const lines = r.stderr.trim().split('\n');
        const names = c.names?.() ?? new RegExp(esc(c.path()));
        if (lines.length !== 1) fail('not one line');
        else if (!names.test(lines[0]!)) fail(`does not name ${names.source}`);
        if (JSON.stringify(listing(home)) !== JSON.stringify(before)) fail('changed $VWS_HOME');
        if (existsSync(join(out, 'exported'))) fail('exported anyway');
      } else {
        // Succeeded without the damaged record: which is still there as it was.
        const was = before.find((l) => l.startsWith(`${path} `));
        const now = listing(home).find((l) => l.startsWith(`${path} `));
        if (was !== now && !(lstatSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false)) fail(`changed the damaged ${c.path()}`);
      }
      rmSync(home, { recursive: true, force: true });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return failures;
}

