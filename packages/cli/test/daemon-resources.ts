// What an exec daemon holds, read from /proc: its open descriptors, its child processes (by name)
// and its resident memory. Shared by the leak test and the soak script (bench/daemon-soak.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Held {
  fds: number;
  children: string[];
  rssMiB: number;
}

export function held(pid: number): Held {
  let kids: number[] = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    // none
  }
  const name = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return { fds: readdirSync(`/proc/${pid}/fd`).length, children: kids.map(name).sort(), rssMiB: Math.round(Number(rss) / 102.4) / 10 };
}
