// A mounted tree changes while a save writes (FUSE is served meanwhile). The next save is a delta
// against the state the last one wrote: if that base were forked after the export, a write landing
// in between would be in the base but not in the saved state, and the next delta would leave it out
// (seen as `vws mount` losing a write under load). The write is made to land exactly there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InodeFs } from '@vws/inode-fs';
import { Vault } from '../src/vault-store.js';

const home = mkdtempSync(join(tmpdir(), 'vws-save-race-'));
beforeAll(() => {
  process.env.VWS_HOME = home;
});
afterAll(() => {
  delete process.env.VWS_HOME;
  rmSync(home, { recursive: true, force: true });
});

it('a write that lands while a save exports is in the next save', () => {
  const v = Vault.create('r');
  const fs = v.load();
  fs.writeFile('/f', 'one');
  v.save(fs);
  fs.writeFile('/f', 'two');
  // During the next save's export, a write arrives (as FUSE would serve one).
  const realFork = fs.fork.bind(fs);
  const realExport = fs.openExport.bind(fs);
  let landed = false;
  const land = () => {
    if (!landed) (fs.writeFile('/f', 'three'), (landed = true));
  };
  fs.fork = () => {
    const state = realFork() as InodeFs;
    const exportState = state.openExport.bind(state);
    state.openExport = (o) => Object.assign(exportState(o), land());
    return state;
  };
  fs.openExport = (o) => Object.assign(realExport(o), land());
  v.save(fs);
  expect(landed).toBe(true);
  fs.fork = realFork;
  fs.openExport = realExport;
  expect(new TextDecoder().decode(v.load().readFile('/f'))).toBe('two'); // what the save exported
  v.save(fs); // a delta: must carry the write that landed
  expect(new TextDecoder().decode(v.load().readFile('/f'))).toBe('three');
});
