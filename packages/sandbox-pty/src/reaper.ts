// Nothing a command starts outlives it, without bubblewrap too: each run gets a cgroup (v2) of its
// own, which its bash joins before anything else runs. Every process it starts stays in it, whatever
// it does (`nohup`, `setsid`, double forks), and when the run's own process has exited one write to
// `cgroup.kill` ends them all. Where no cgroup v2 is writable (not root, no delegation, not Linux)
// runs fall back to killing their process group, which `setsid` escapes (README: Containment).

import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { processAlive } from './process-alive.js';

const PREFIX = 'vws-runs-';
let base: string | null | undefined;
let seq = 0;

/** The cgroup v2 mount and this process's own cgroup in it, or undefined. */
function ownCgroup(): string | undefined {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const line = info.split('\n').find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '));
  const mountPoint = line?.split(' ')[4];
  const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
  if (!mountPoint || own === undefined) return undefined;
  const dir = join(mountPoint, own);
  return existsSync(join(dir, 'cgroup.procs')) ? dir : undefined;
}

/** Ends every process in a run's cgroup and removes it (synchronously: for exit and stale ones). */
function killAndRemoveSync(dir: string): void {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // gone already
  }
  // SIGKILLed processes take a moment to go: wait for that, briefly (this runs at exit, synchronously).
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return;
    }
    Atomics.wait(pause, 0, 0, 2);
  }
  // Still emptying: the next process's clean-up takes it.
}

/** The runs' cgroups of a process that is gone (crashed): what is left in them is killed. */
function removeStale(parent: string): void {
  for (const name of readdirSync(parent)) {
    const m = /^vws-runs-(\d+)(-t\d+)?$/.exec(name);
    const pid = Number(m?.[1]);
    if (!m || pid === process.pid || processAlive(pid)) continue;
    const dir = join(parent, name);
    try {
      for (const run of readdirSync(dir)) if (run.startsWith('run-')) killAndRemoveSync(join(dir, run));
      rmdirSync(dir);
    } catch {
      // another process is at it, or not empty yet
    }
  }
}

/** This process's parent cgroup for runs (made once), or null where cgroups cannot be used. */
function runsBase(): string | null {
  if (base !== undefined) return base;
  base = null;
  if (process.platform !== 'linux' || process.env.VWS_REAP === 'group') return base;
  try {
    const parent = ownCgroup();
    if (!parent) return base;
    // One per process (and worker thread: they share the pid).
    const dir = join(parent, `${PREFIX}${process.pid}${threadId ? `-t${threadId}` : ''}`);
    mkdirSync(dir);
    removeStale(parent);
    process.once('exit', () => {
      try {
        for (const run of readdirSync(dir)) if (run.startsWith('run-')) killAndRemoveSync(join(dir, run));
        rmdirSync(dir);
      } catch {
        // left for the next process
      }
    });
    base = dir;
  } catch {
    base = null; // read-only cgroupfs, no permission, no cgroup v2
  }
  return base;
}

export interface RunGroup {
  /** The file the run's bash writes its pid into (`__vws_cg`). */
  procs: string;
  /** Kills every process left in the run (synchronous; a read when none is left, a write when some are). */
  kill(): void;
  /** After kill(): once the group is empty, it is kept for a later run (mkdir and rmdir cost more than a reuse). */
  remove(): Promise<void>;
}

/** Emptied run cgroups, reused: making and removing one costs ~0.17 ms, a reuse nothing. */
const free: string[] = [];

const populated = (dir: string): boolean => {
  try {
    return readFileSync(join(dir, 'cgroup.events'), 'latin1').includes('populated 1');
  } catch {
    return false;
  }
};

/** A cgroup for one run, or undefined where cgroups cannot be used (the process group is then all there is). */
export function newRunGroup(): RunGroup | undefined {
  const parent = runsBase();
  if (!parent) return undefined;
  let dir = free.pop();
  if (!dir) {
    dir = join(parent, `run-${++seq}`);
    try {
      mkdirSync(dir);
    } catch {
      return undefined;
    }
  }
  const at = dir;
  let done = false;
  /** Given back for reuse: from then on another run may be in it, and this handle kills nothing. */
  let released = false;
  return {
    procs: join(at, 'cgroup.procs'),
    kill() {
      // Writing cgroup.kill costs ~0.1 ms even when nothing is left: look first.
      if (released || !populated(at)) return;
      try {
        writeFileSync(join(at, 'cgroup.kill'), '1');
      } catch {
        // removed already
      }
    },
    async remove() {
      if (done) return;
      done = true;
      this.kill();
      // SIGKILLed processes take a moment to be gone.
      for (let wait = 1; populated(at); wait *= 2) {
        if (wait > 64) return void retryLater(at);
        await new Promise((r) => setTimeout(r, wait));
        this.kill(); // one that was forking as the kill came
      }
      released = true;
      if (base && at.startsWith(base)) free.push(at);
    },
  };
}

/** A group that would not empty quickly (a process in uninterruptible sleep): removed when it has. */
async function retryLater(dir: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100).unref());
    if (!existsSync(dir)) return;
    if (!populated(dir)) {
      await rmdir(dir).catch(() => {});
      return;
    }
  }
}

let usable: boolean | undefined;
/**
 * Whether runs started from a process like this one are reaped exactly (a cgroup per run), for
 * getInfo and tests: made nothing itself (the spawner process makes the cgroups), it asks whether
 * this process's cgroup is writable.
 */
export function reapsExactly(): boolean {
  if (usable !== undefined) return usable;
  usable = false;
  if (process.platform !== 'linux' || process.env.VWS_REAP === 'group') return usable;
  try {
    const dir = ownCgroup();
    if (dir) {
      accessSync(dir, constants.W_OK);
      usable = true;
    }
  } catch {
    // read-only or not ours
  }
  return usable;
}
