// The host's read cache (read-cache.ts): what a write to one plain path forgets, found by index.
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../src/read-cache.js';

describe('ReadCache.forgetPath', () => {
  it('forgets the path, its directories and every answer not about a plain path; keeps the rest', () => {
    const c = new ReadCache(0);
    const put = (key: string, path: string | undefined, plain = true) => c.set(key, { ok: key, path, plain });
    put('stat /a/b/f', '/a/b/f');
    put('readFile /a/b/f', '/a/b/f');
    put('readdir /a/b', '/a/b');
    put('stat /a', '/a');
    put('stat /', '/');
    put('stat /a/b/g', '/a/b/g'); // a sibling: kept
    put('stat /x/y', '/x/y'); // elsewhere: kept
    put('stat /a/b/f/../g', '/a/b/f/../g'); // not plain spelling
    put('stat /link/f', '/link/f', false); // a symlink on the way
    put('usage', undefined);
    c.set('stat /x/y', { ok: 'again', path: '/x/y', plain: true }); // set twice: one entry
    expect(c.size).toBe(10);
    c.forgetPath('/a/b/f');
    const left = ['stat /a/b/g', 'stat /x/y'];
    expect(c.size).toBe(left.length);
    for (const k of left) expect(c.get(k)).toBeDefined();
    // A later write elsewhere forgets only along its own way.
    put('stat /a/b/f', '/a/b/f');
    c.forgetPath('/x/y');
    expect(c.get('stat /x/y')).toBeUndefined();
    expect(c.get('stat /a/b/f')).toBeDefined();
    expect(c.get('stat /a/b/g')).toBeDefined();
    c.clear();
    expect(c.size).toBe(0);
  });
});
