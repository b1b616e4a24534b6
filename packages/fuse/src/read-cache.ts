// The host's cache of a mounted engine's read answers (remote-fs.ts): exact while the engine's epoch
// (a shared counter the serving thread bumps on every change) stands. After a write to one plain
// name, only the answers that may mention it are dropped; they are found through an index by path,
// so the cost follows the written path's depth, not the cache's size (an Agent creating hundreds
// of files fills it).

import type { WireError } from './wire.js';

/**
 * A cached answer; `path`: the path it is about; `plain`: that path names the file with no symlink
 * on the way; `parentPlain` (a miss): the path's directory is one, named plainly.
 */
export type Cached = ({ ok: unknown } | { err: WireError }) & { path?: string; plain?: boolean; parentPlain?: boolean };

/** An absolute path in the engine's own spelling ('/a/b': no '//', '.', '..' or trailing '/'). */
export const isPlainPath = (p: string): boolean => p === '/' || (/^(\/[^/]+)+$/.test(p) && !p.split('/').some((s) => s === '.' || s === '..'));

/** A plain path's directory and last name ('/a/b' -> ['/a', 'b'], '/a' -> ['/', 'a']). */
export const splitPath = (path: string): [string, string] => {
  const cut = path.lastIndexOf('/');
  return [path.slice(0, cut) || '/', path.slice(cut + 1)];
};

export class ReadCache {
  epoch = Number.NaN;
  /** A pipelined write whose answer is not in yet (remote-fs.ts): the cache is from before it. */
  pending?: { seq: number; path: string };
  private readonly entries = new Map<string, Cached>();
  /** Keys of answers about each plain path. */
  private readonly byPath = new Map<string, Set<string>>();
  /** Keys of answers about no path, or a path that is not plain (a symlink could make it any file). */
  private readonly loose = new Set<string>();

  constructor(readonly slot: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Cached | undefined {
    return this.entries.get(key);
  }

  set(key: string, hit: Cached): void {
    this.entries.set(key, hit);
    if (hit.plain && hit.path !== undefined && isPlainPath(hit.path)) {
      let keys = this.byPath.get(hit.path);
      if (!keys) this.byPath.set(hit.path, (keys = new Set()));
      keys.add(key);
      this.loose.delete(key);
    } else this.loose.add(key);
  }

  clear(): void {
    this.entries.clear();
    this.byPath.clear();
    this.loose.clear();
  }

  /**
   * After a write to the plain path `path` (one link, no symlink on the way): forgets the answers
   * about it and its directories, and every answer whose path is not plain (another spelling might
   * name the same file). Everything else cannot have changed.
   */
  forgetPath(path: string): void {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf('/')) || '/') {
      for (const key of this.byPath.get(p) ?? []) this.entries.delete(key);
      this.byPath.delete(p);
      if (p === '/' || p === '') break;
    }
    for (const key of this.loose) this.entries.delete(key);
    this.loose.clear();
  }
}
