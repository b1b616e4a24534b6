// A seeded soak of cache coherence: rounds of random engine-API changes (writes, appends, truncates,
// renames over names, unlinks, mkdir/rmdir, chmod, links, symlinks, checkpoint restores) mixed with
// changes made by a command through the mount; after each round, what a fresh command sees through
// the kernel's caches must equal the engine's own state, byte for byte. A missed invalidation shows
// up as a difference.

import { InodeFs } from '@vws/inode-fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { ok } from './helpers.js';

const ROUNDS = Number(process.env.VWS_SOAK_ROUNDS ?? 40);

let fs: InodeFs;
let m: Mount;
beforeAll(async () => {
  fs = new InodeFs();
  m = await mount(fs);
});
afterAll(async () => {
  await m?.unmount();
});

/** xorshift32: the same seed gives the same rounds. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** The tree as the engine has it: one line per entry (type, path, mode, size, content or target). */
function engineView(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdir(dir) as string[]) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const st = fs.lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`d ${p} ${mode}`);
        walk(p);
      } else if (st.isSymbolicLink()) out.push(`l ${p} -> ${fs.readlink(p)}`);
      else out.push(`f ${p} ${mode} ${st.size} ${JSON.stringify(fs.readFile(p, 'utf8'))} ${st.nlink}`);
    }
  };
  walk('/');
  return out.sort();
}

/** The same, as a command sees it through the mount. */
async function mountView(): Promise<string[]> {
  const out = await ok(
    `cd "$M" && python3 -c '
import json, os, stat
rows = []
for root, dirs, files in os.walk("."):
    for name in dirs + files:
        p = os.path.join(root, name)
        st = os.lstat(p)
        q = p[1:]
        mode = format(stat.S_IMODE(st.st_mode), "o")
        if stat.S_ISDIR(st.st_mode): rows.append("d %s %s" % (q, mode))
        elif stat.S_ISLNK(st.st_mode): rows.append("l %s -> %s" % (q, os.readlink(p)))
        else: rows.append("f %s %s %d %s %d" % (q, mode, st.st_size, json.dumps(open(p).read()), st.st_nlink))
print("\\n".join(sorted(rows)))
'`,
    { M: m.path },
  );
  return out.split('\n').filter(Boolean);
}

it(`${ROUNDS} rounds of API and command changes: the mount always shows the engine's state`, async () => {
  const pick = rng(20261123);
  const dirs = ['/', '/a', '/b', '/a/c'];
  const names = ['x', 'y', 'z', 'long-name.txt'];
  const path = () => {
    const d = dirs[pick(dirs.length)];
    return `${d === '/' ? '' : d}/${names[pick(names.length)]}`;
  };
  const checkpoints: InodeFs[] = [];
  const attempt = (fn: () => void) => {
    try {
      fn();
    } catch {
      // EEXIST, ENOENT, ENOTDIR...: a random operation may not apply; the state is unchanged.
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < 6; i++) {
      switch (pick(12)) {
        case 0:
          attempt(() => fs.writeFile(path(), `round ${round} op ${i}\n`.repeat(1 + pick(50))));
          break;
        case 1:
          attempt(() => fs.appendFile(path(), `+${round}`));
          break;
        case 2:
          attempt(() => fs.truncate(path(), pick(40)));
          break;
        case 3:
          attempt(() => fs.rename(path(), path()));
          break;
        case 4:
          attempt(() => fs.unlink(path()));
          break;
        case 5:
          attempt(() => fs.mkdir(dirs[1 + pick(3)], { recursive: true }));
          break;
        case 6:
          attempt(() => fs.rm(dirs[1 + pick(3)], { recursive: true }));
          break;
        case 7:
          attempt(() => fs.chmod(path(), [0o600, 0o644, 0o755][pick(3)]));
          break;
        case 8:
          attempt(() => fs.link(path(), path()));
          break;
        case 9:
          attempt(() => fs.symlink(names[pick(names.length)], path()));
          break;
        case 10:
          if (checkpoints.length && pick(3) === 0) fs.reset(checkpoints[pick(checkpoints.length)]);
          else checkpoints.push(fs.fork());
          break;
        default:
          // A command changes things through the mount (the engine must see it, and the kernel
          // must not be told about its own changes in a way that breaks anything).
          await m.settle();
          await ok(`cd "$M" && mkdir -p a && printf 'cmd %s' "$R" >> a/x && mv -f a/x b-from-cmd 2>/dev/null; rm -f y; true`, { M: m.path, R: String(round) });
      }
    }
    await m.settle();
    expect({ round, view: await mountView() }).toEqual({ round, view: engineView() });
  }
});
