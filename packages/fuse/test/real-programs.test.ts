// Real host programs inside a mounted workspace; results are checked through the engine.

import { InodeFs } from '@vws/inode-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { GIT, ok, sh } from './helpers.js';

let fs: InodeFs;
let m: Mount;
let env: Record<string, string>;

beforeAll(async () => {
  fs = new InodeFs();
  m = await mount(fs);
  env = { M: m.path };
});
afterAll(async () => {
  await m?.unmount();
});

describe('git', () => {
  it('init, add, commit, status, log, branch, checkout', async () => {
    const out = await ok(
      `cd "$M" && mkdir repo && cd repo && ${GIT} init -q . && printf 'one\\n' > a.txt && mkdir src && printf 'x = 1\\n' > src/x.py &&
       ${GIT} add . && ${GIT} commit -qm first && ${GIT} branch feature && ${GIT} checkout -q feature &&
       printf 'two\\n' >> a.txt && ${GIT} commit -qam second && ${GIT} checkout -q main && cat a.txt &&
       ${GIT} log --oneline --all | wc -l && ${GIT} status --porcelain | wc -l && ${GIT} branch --list`,
      env,
    );
    expect(out).toContain('one\n2\n0\n');
    expect(out).toMatch(/feature/);
    expect(fs.readFile('/repo/a.txt', 'utf8')).toBe('one\n');
    expect(fs.stat('/repo/.git/HEAD').isFile()).toBe(true);
    expect(fs.readFile('/repo/.git/HEAD', 'utf8')).toBe('ref: refs/heads/main\n');
    expect(fs.readdir('/repo/.git/refs/heads')).toEqual(['feature', 'main']);
  });

  it('clones a local repository into the mount and back out', async () => {
    const out = await ok(
      `src=$(mktemp -d) && trap 'rm -rf "$src" "$back"' EXIT && cd "$src" && ${GIT} init -q . && echo hi > f && ${GIT} add f && ${GIT} commit -qm c1 &&
       ${GIT} clone -q "$src" "$M/cloned" && cd "$M/cloned" && ${GIT} log --format=%s && ${GIT} fsck --no-progress 2>&1 | wc -l &&
       back=$(mktemp -d) && ${GIT} clone -q "$M/cloned" "$back/again" && cat "$back/again/f"`,
      env,
    );
    expect(out).toBe('c1\n0\nhi\n');
    expect(fs.readFile('/cloned/f', 'utf8')).toBe('hi\n');
  });
});

describe('archives and copies', () => {
  it('tar c of a tree in the mount and tar x into it round-trip contents, modes and times', async () => {
    await ok(
      `cd "$M" && mkdir -p tree/a/b && printf data > tree/a/b/f && chmod 640 tree/a/b/f && printf '#!/bin/sh\\necho run\\n' > tree/run.sh && chmod 755 tree/run.sh &&
       ln -s a/b/f tree/link && touch -d '2001-02-03 04:05:06' tree/a/b/f && tar cf "$M/tree.tar" -C "$M" tree && mkdir out && tar xpf tree.tar -C out`,
      env,
    );
    expect(fs.readFile('/out/tree/a/b/f', 'utf8')).toBe('data');
    expect(fs.stat('/out/tree/a/b/f').mode & 0o777).toBe(0o640);
    expect(fs.stat('/out/tree/run.sh').mode & 0o777).toBe(0o755);
    expect(fs.readlink('/out/tree/link')).toBe('a/b/f');
    expect(fs.stat('/out/tree/a/b/f').mtimeNs).toBe(fs.stat('/tree/a/b/f').mtimeNs);
    expect(new Date(fs.stat('/out/tree/a/b/f').mtimeMs).toISOString()).toBe('2001-02-03T04:05:06.000Z');
    const listing = await ok('cd "$M/out" && ./tree/run.sh && tar tf "$M/tree.tar" | sort | head -3', env);
    expect(listing).toBe('run\ntree/\ntree/a/\ntree/a/b/\n'.split('\n').slice(0, 4).join('\n') + '\n');
  });

  it('cp -a preserves modes, times, symlinks and hard links', async () => {
    await ok(
      `cd "$M" && mkdir -p cpsrc && printf x > cpsrc/f && chmod 600 cpsrc/f && touch -d '2010-10-10 10:10:10' cpsrc/f && ln cpsrc/f cpsrc/hard && ln -s f cpsrc/sym && cp -a cpsrc cpdst`,
      env,
    );
    const a = fs.stat('/cpsrc/f');
    const b = fs.stat('/cpdst/f');
    expect(b.mode & 0o7777).toBe(0o600);
    expect(b.mtimeNs).toBe(a.mtimeNs);
    expect(fs.readlink('/cpdst/sym')).toBe('f');
    expect(fs.stat('/cpdst/hard').ino).toBe(b.ino);
    expect(b.nlink).toBe(2);
  });

  it('ln, ln -s, mv over an existing file, rm -rf of a deep tree', async () => {
    const deep = Array.from({ length: 60 }, (_, i) => `d${i}`).join('/');
    await ok(
      `cd "$M" && printf old > target && printf new > incoming && ln target hl && ln -s target sl && mv -f incoming target && mkdir -p del/${deep} && touch del/${deep}/leaf && rm -rf del`,
      env,
    );
    expect(fs.readFile('/target', 'utf8')).toBe('new');
    expect(fs.readFile('/hl', 'utf8')).toBe('old');
    expect(fs.readFile('/sl', 'utf8')).toBe('new');
    expect(fs.exists('/incoming')).toBe(false);
    expect(fs.exists('/del')).toBe(false);
  });

  it('find, du and df see the tree and the quota', async () => {
    fs.mkdir('/walk/x/y', { recursive: true });
    for (let i = 0; i < 50; i++) fs.writeFile(`/walk/x/y/f${i}`, 'z'.repeat(1000));
    const out = await ok('cd "$M/walk" && find . -type f | wc -l && du -sb . | cut -f1 && df -B1 --output=size "$M" | tail -1', env);
    const [files, bytes, size] = out.trim().split('\n').map((s) => Number(s.trim()));
    expect(files).toBe(50);
    expect(bytes).toBeGreaterThanOrEqual(50_000);
    expect(size).toBe(Math.floor(fs.quota.bytes / 4096) * 4096);
  });
});

describe('runtimes', () => {
  it('python3: mmap, fsync and an sqlite3 database', async () => {
    const out = await ok(
      `cd "$M" && python3 - <<'PY'
import mmap, os, sqlite3
with open('mm.bin', 'wb') as f:
    f.write(b'hello world')
    f.flush(); os.fsync(f.fileno())
with open('mm.bin', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b'HELLO'
    m.flush(); m.close()
db = sqlite3.connect('app.db')
db.execute('create table t (k integer primary key, v text)')
db.executemany('insert into t (v) values (?)', [('row %d' % i,) for i in range(500)])
db.commit()
print(db.execute('select count(*), max(k) from t').fetchone())
db.execute('pragma integrity_check')
db.close()
PY`,
      env,
    );
    expect(out.trim()).toBe('(500, 500)');
    expect(fs.readFile('/mm.bin', 'utf8')).toBe('HELLO world');
    const header = fs.readFile('/app.db').subarray(0, 15);
    expect(Buffer.from(header).toString()).toBe('SQLite format 3');
    const again = await ok(`cd "$M" && sqlite3 app.db 'select v from t where k = 250; pragma integrity_check;'`, env);
    expect(again).toBe('row 249\nok\n');
  });

  it('node writes and reads files', async () => {
    const out = await ok(
      `cd "$M" && node -e "const fs=require('fs');fs.mkdirSync('nodedir',{recursive:true});fs.writeFileSync('nodedir/j.json',JSON.stringify({n:42}));console.log(JSON.parse(fs.readFileSync('nodedir/j.json')).n, fs.readdirSync('nodedir').length)"`,
      env,
    );
    expect(out.trim()).toBe('42 1');
    expect(JSON.parse(fs.readFile('/nodedir/j.json', 'utf8'))).toEqual({ n: 42 });
  });

  it('two processes appending with O_APPEND lose no write', async () => {
    await ok(
      `cd "$M" && : > log.txt && { (for i in $(seq 1 300); do echo "a$i" >> log.txt; done) & (for i in $(seq 1 300); do echo "b$i" >> log.txt; done) & wait; }`,
      env,
    );
    const lines = fs.readFile('/log.txt', 'utf8').trim().split('\n');
    expect(lines.length).toBe(600);
    expect(new Set(lines).size).toBe(600);
    expect(lines.filter((l) => /^a\d+$/.test(l)).length).toBe(300);
  });

  it('a file unlinked while open stays readable by its holder', async () => {
    const out = await ok(
      `cd "$M" && printf 'still here' > doomed && python3 -c "
import os
f = open('doomed', 'rb')
os.unlink('doomed')
print(os.path.exists('doomed'), f.read().decode())
f.close()"`,
      env,
    );
    expect(out.trim()).toBe('False still here');
    expect(fs.exists('/doomed')).toBe(false);
    expect(fs.readdir('/').some((n) => n.startsWith('.fuse_hidden'))).toBe(false);
  });
});

describe('errors reach programs as errno', () => {
  it('ENOENT, ENOTEMPTY, EEXIST, ENOTDIR, ENAMETOOLONG, ENOSPC', async () => {
    const small = new InodeFs({ quota: { bytes: 10_000 } });
    const sm = await mount(small);
    try {
      const r = await sh(
        `cd "$M" && python3 - <<'PY'
import errno, os
def code(fn):
    try: fn(); return 'ok'
    except OSError as e: return errno.errorcode[e.errno]
os.mkdir('d'); open('d/f', 'w').close(); open('file', 'w').close()
print(code(lambda: os.stat('missing')), code(lambda: os.rmdir('d')), code(lambda: os.mkdir('d')),
      code(lambda: os.stat('file/x')), code(lambda: open('x' * 256, 'w')))
with open('big', 'wb') as f:
    print(code(lambda: (f.write(b'z' * 20000), f.flush())))
PY`,
        { M: sm.path },
      );
      expect(r.stdout.trim().split('\n')).toEqual(['ENOENT ENOTEMPTY EEXIST ENOTDIR ENAMETOOLONG', 'ENOSPC']);
    } finally {
      await sm.unmount();
    }
  });
});
