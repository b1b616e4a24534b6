// Names are bytes through the mount: names that are not UTF-8 arrive in the engine and leave it as
// the exact bytes a program used (no U+FFFD merging two names into one), for lookups, creates,
// listings, renames, symlink targets, xattr names and the kernel-cache invalidations of API writes.
// Served on the serving thread (the default) and inline.

import { InodeFs, bytesToName } from '@vws/inode-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mount, type Mount } from '../src/index.js';
import { ok } from './helpers.js';

/** Byte names in a directory of the mount, as hex, sorted (python reads them as bytes). */
const listHex = (dir: string) =>
  ok(`python3 -c 'import os,sys; print(" ".join(sorted(n.hex() for n in os.listdir(sys.argv[1].encode()))))' "${dir}"`).then((s) => s.trim().split(' ').filter(Boolean));
const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

for (const inline of [false, true]) {
  describe(`names are bytes through FUSE (${inline ? 'inline' : 'serving thread'})`, () => {
    let m: Mount;
    let fs: InodeFs;
    beforeAll(async () => {
      fs = new InodeFs();
      m = await mount(fs, undefined, { inline });
      fs = m.fs;
    });
    afterAll(async () => {
      await m?.unmount();
    });

    it("printf one > $'\\xff'; printf two > $'\\xfe' gives two files with those exact names", async () => {
      await ok(`cd "${m.path}" && mkdir b1 && cd b1 && printf one > $'\\xff' && printf two > $'\\xfe' && cat $'\\xff' $'\\xfe'`).then((out) => expect(out).toBe('onetwo'));
      expect(fs.readdir('/b1').sort()).toEqual(['\udcfe', '\udcff']);
      expect(fs.readFile('/b1/\udcff', 'utf8')).toBe('one');
      expect(fs.readFile('/b1/\udcfe', 'utf8')).toBe('two');
      expect(await listHex(`${m.path}/b1`)).toEqual(['fe', 'ff']);
    });

    it('a name made through the API with escaped bytes is those bytes on the host', async () => {
      fs.mkdir('/b2');
      fs.writeFile('/b2/x\udc80y', 'api');
      fs.writeFile('/b2/é', 'utf8');
      await m.settle();
      expect(await listHex(`${m.path}/b2`)).toEqual([hex('x\x80y'), Buffer.from('é').toString('hex')].sort());
      expect(await ok(`cat "${m.path}/b2/x"$'\\x80'"y"`)).toBe('api');
    });

    it('rename, hard link, symlink target and unlink keep the bytes', async () => {
      await ok(`cd "${m.path}" && mkdir b3 && cd b3 && printf data > $'a\\xc3' && mv $'a\\xc3' $'b\\xe9' && ln $'b\\xe9' $'h\\xff' && ln -s $'t\\xfe\\xff' l`);
      expect(fs.readdir('/b3').sort()).toEqual(['b\udce9', 'h\udcff', 'l'].sort());
      expect(fs.readlink('/b3/l')).toBe('t\udcfe\udcff');
      expect(await ok(`python3 -c 'import os,sys; print(os.readlink(sys.argv[1].encode()+b"/l").hex())' "${m.path}/b3"`)).toBe(`${hex('t\xfe\xff')}\n`);
      await ok(`cd "${m.path}/b3" && rm $'h\\xff'`);
      expect(fs.readdir('/b3').sort()).toEqual(['b\udce9', 'l']);
    });

    it('an API unlink of a byte name reaches the kernel cache (invalidation carries the bytes)', async () => {
      await ok(`cd "${m.path}" && mkdir b4 && printf x > b4/$'\\xf0\\x9f' && stat b4/$'\\xf0\\x9f' >/dev/null`);
      expect(fs.readdir('/b4')).toEqual(['\udcf0\udc9f']);
      fs.unlink('/b4/\udcf0\udc9f');
      await m.settle();
      const r = await ok(`test -e "${m.path}/b4/"$'\\xf0\\x9f' && echo present || echo gone`);
      expect(r.trim()).toBe('gone');
    });

    it('xattr names with non-UTF-8 bytes round-trip', async () => {
      await ok(`cd "${m.path}" && printf x > xa && python3 -c 'import os; os.setxattr(b"xa", b"user.\\xff", b"v")'`);
      expect(fs.listxattr(fs.inoOf('/xa'))).toEqual(['user.\udcff']);
      // Python decodes xattr names with surrogateescape (the same mapping): encode back to see the bytes.
      expect(await ok(`cd "${m.path}" && python3 -c 'import os; print([n.encode("utf-8", "surrogateescape").hex() for n in os.listxattr(b"xa")])'`)).toBe(`['${hex('user.\xff')}']\n`);
    });

    it('bytesToName agrees with what the kernel handed over', async () => {
      const bytes = Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]); // an encoded surrogate: not UTF-8
      await ok(`cd "${m.path}" && python3 -c 'import sys; open(bytes.fromhex(sys.argv[1]), "w").write("s")' ${bytes.toString('hex')}`);
      expect(fs.exists(`/${bytesToName(bytes)}`)).toBe(true);
    });
  });
}
