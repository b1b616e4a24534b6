// A persistent sparse vector keyed by small non-negative integers (inode numbers), as a 32-way trie.
// Same owner discipline as PMap: in-place writes for the owning epoch, path copies for anyone else,
// O(1) sharing on fork, and a diff that skips shared subtrees. Lookups are a few array indexings.

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;

class VNode<T> {
  constructor(
    public owner: number,
    public slots: Array<VNode<T> | T | undefined>,
  ) {}
}

export class PVec<T> {
  private constructor(
    public owner: number,
    private root: VNode<T>,
    /** Levels below the root: the trie holds keys < 32^(shift/5 + 1). */
    private shift: number,
    private count: number,
  ) {}

  static empty<T>(owner: number): PVec<T> {
    return new PVec<T>(owner, new VNode<T>(owner, new Array(WIDTH)), 0, 0);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): T | undefined {
    if (key >= 2 ** (this.shift + BITS)) return undefined;
    let node = this.root;
    for (let s = this.shift; s > 0; s -= BITS) {
      const next = node.slots[(key >>> s) & MASK] as VNode<T> | undefined;
      if (next === undefined) return undefined;
      node = next;
    }
    return node.slots[key & MASK] as T | undefined;
  }

  editable(owner: number): PVec<T> {
    return this.owner === owner ? this : new PVec(owner, this.root, this.shift, this.count);
  }

  set(owner: number, key: number, value: T): PVec<T> {
    const target = this.editable(owner);
    while (key >= 2 ** (target.shift + BITS)) {
      // Grow upward: the old root becomes slot 0 of a new root.
      const slots = new Array<VNode<T> | T | undefined>(WIDTH);
      slots[0] = target.root;
      target.root = new VNode<T>(owner, slots);
      target.shift += BITS;
    }
    target.root = target.root.owner === owner ? target.root : new VNode(owner, target.root.slots.slice());
    let node = target.root;
    for (let s = target.shift; s > 0; s -= BITS) {
      const i = (key >>> s) & MASK;
      let next = node.slots[i] as VNode<T> | undefined;
      if (next === undefined) next = new VNode<T>(owner, new Array(WIDTH));
      else if (next.owner !== owner) next = new VNode<T>(owner, next.slots.slice());
      node.slots[i] = next;
      node = next;
    }
    if (node.slots[key & MASK] === undefined) target.count++;
    node.slots[key & MASK] = value;
    return target;
  }

  delete(owner: number, key: number): PVec<T> {
    if (this.get(key) === undefined) return this.editable(owner);
    const target = this.editable(owner);
    target.root = target.root.owner === owner ? target.root : new VNode(owner, target.root.slots.slice());
    let node = target.root;
    for (let s = target.shift; s > 0; s -= BITS) {
      const i = (key >>> s) & MASK;
      let next = node.slots[i] as VNode<T>;
      if (next.owner !== owner) next = new VNode<T>(owner, next.slots.slice());
      node.slots[i] = next;
      node = next;
    }
    node.slots[key & MASK] = undefined;
    target.count--;
    return target;
  }

  forEach(fn: (value: T, key: number) => void): void {
    const visit = (node: VNode<T>, shift: number, base: number) => {
      for (let i = 0; i < WIDTH; i++) {
        const slot = node.slots[i];
        if (slot === undefined) continue;
        if (shift === 0) fn(slot as T, base + i);
        else visit(slot as VNode<T>, shift - BITS, base + i * 2 ** shift);
      }
    };
    visit(this.root, this.shift, 0);
  }

  /** Calls fn for every key whose value differs (by identity) between this vector and `other`. */
  diff(other: PVec<T>, fn: (key: number, before: T | undefined, after: T | undefined) => void): void {
    // Bring both to the same height by treating a shorter trie as slot 0 of a taller one.
    let a: VNode<T> | undefined = this.root;
    let b: VNode<T> | undefined = other.root;
    const shift = Math.max(this.shift, other.shift);
    for (let s = this.shift; s < shift; s += BITS) a = new VNode<T>(-1, [a, ...new Array(WIDTH - 1)]);
    for (let s = other.shift; s < shift; s += BITS) b = new VNode<T>(-1, [b, ...new Array(WIDTH - 1)]);
    const walk = (x: VNode<T> | undefined, y: VNode<T> | undefined, s: number, base: number) => {
      if (x === y) return;
      for (let i = 0; i < WIDTH; i++) {
        const sx = x?.slots[i];
        const sy = y?.slots[i];
        if (sx === sy) continue;
        if (s === 0) fn(base + i, sx as T | undefined, sy as T | undefined);
        else walk(sx as VNode<T> | undefined, sy as VNode<T> | undefined, s - BITS, base + i * 2 ** s);
      }
    };
    walk(a, b, shift, 0);
  }
}
