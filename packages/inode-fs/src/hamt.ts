// A persistent hash array mapped trie with owner-based transients.
//
// Every node records the `owner` (an edit epoch) that created it. A writer holding the same owner
// mutates nodes in place (fast path: no allocation); any other writer copies the path it touches.
// fork() is O(1): both sides take fresh owners, so every existing node becomes shared and immutable.
// diff() walks two maps and skips subtrees that are the same object, so its cost follows the change.

const BITS = 5;
const MASK = 31;
const MAX_DEPTH = 7; // 7 * 5 bits > 32-bit hash: deeper keys go to a collision node

export type Key = string | number;

/** Node tags: one small integer field read instead of instanceof chains on the hot path. */
const BRANCH = 0;
const COLLISION = 1;
const LEAF = 2;

class Leaf<V> {
  readonly t = LEAF;
  constructor(
    readonly key: Key,
    readonly hash: number,
    readonly value: V,
  ) {}
}

class Branch<V> {
  readonly t = BRANCH;
  constructor(
    public owner: number,
    public bitmap: number,
    public slots: Array<Leaf<V> | Branch<V> | Collision<V>>,
  ) {}
}

class Collision<V> {
  readonly t = COLLISION;
  constructor(
    public owner: number,
    public readonly hash: number,
    public leaves: Leaf<V>[],
  ) {}
}

type Node<V> = Branch<V> | Collision<V>;

export function hashKey(key: Key): number {
  if (typeof key === 'number') {
    let h = Math.imul(key | 0, 0x9e3779b1) ^ Math.floor(key / 4294967296);
    h ^= h >>> 16;
    return Math.imul(h, 0x85ebca6b) | 0;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) | 0;
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
};

const isLeaf = <V>(x: Leaf<V> | Node<V>): x is Leaf<V> => x.t === LEAF;

function branchOf<V>(owner: number, a: Leaf<V>, b: Leaf<V>, shift: number): Node<V> {
  if (shift >= BITS * MAX_DEPTH) return new Collision(owner, a.hash, [a, b]);
  const ia = (a.hash >>> shift) & MASK;
  const ib = (b.hash >>> shift) & MASK;
  if (ia === ib) return new Branch(owner, 1 << ia, [branchOf(owner, a, b, shift + BITS)]);
  return ia < ib ? new Branch(owner, (1 << ia) | (1 << ib), [a, b]) : new Branch(owner, (1 << ia) | (1 << ib), [b, a]);
}

/** Result flags of a write, so the map can keep its size without a second lookup. */
const enum Effect {
  None = 0,
  Added = 1,
  Removed = 2,
  Replaced = 3,
}
let effect: Effect = Effect.None;

function setIn<V>(node: Node<V>, owner: number, leaf: Leaf<V>, shift: number): Node<V> {
  if (node.t === COLLISION) {
    const i = node.leaves.findIndex((l) => l.key === leaf.key);
    const leaves = node.owner === owner ? node.leaves : node.leaves.slice();
    if (i >= 0) {
      if (leaves[i].value === leaf.value) return node;
      leaves[i] = leaf;
      effect = Effect.Replaced;
    } else {
      leaves.push(leaf);
      effect = Effect.Added;
    }
    if (node.owner === owner) return node;
    return new Collision(owner, node.hash, leaves);
  }
  const bit = 1 << ((leaf.hash >>> shift) & MASK);
  const idx = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    effect = Effect.Added;
    if (node.owner === owner) {
      node.slots.splice(idx, 0, leaf);
      node.bitmap |= bit;
      return node;
    }
    const slots = node.slots.slice();
    slots.splice(idx, 0, leaf);
    return new Branch(owner, node.bitmap | bit, slots);
  }
  const cur = node.slots[idx];
  let next: Leaf<V> | Node<V>;
  if (isLeaf(cur)) {
    if (cur.key === leaf.key) {
      if (cur.value === leaf.value) return node;
      effect = Effect.Replaced;
      next = leaf;
    } else {
      effect = Effect.Added;
      next = branchOf(owner, cur, leaf, shift + BITS);
    }
  } else {
    next = setIn(cur, owner, leaf, shift + BITS);
    if (next === cur) return node;
  }
  if (node.owner === owner) {
    node.slots[idx] = next;
    return node;
  }
  const slots = node.slots.slice();
  slots[idx] = next;
  return new Branch(owner, node.bitmap, slots);
}

function deleteIn<V>(node: Node<V>, owner: number, key: Key, hash: number, shift: number): Node<V> | Leaf<V> | undefined {
  if (node.t === COLLISION) {
    const i = node.leaves.findIndex((l) => l.key === key);
    if (i < 0) return node;
    effect = Effect.Removed;
    if (node.leaves.length === 2) return node.leaves[1 - i];
    const leaves = node.owner === owner ? node.leaves : node.leaves.slice();
    leaves.splice(i, 1);
    return node.owner === owner ? node : new Collision(owner, node.hash, leaves);
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  if ((node.bitmap & bit) === 0) return node;
  const idx = popcount(node.bitmap & (bit - 1));
  const cur = node.slots[idx];
  let next: Node<V> | Leaf<V> | undefined;
  if (isLeaf(cur)) {
    if (cur.key !== key) return node;
    effect = Effect.Removed;
    next = undefined;
  } else {
    next = deleteIn(cur, owner, key, hash, shift + BITS);
    if (next === cur) return node;
  }
  if (next === undefined) {
    if (node.slots.length === 1) return undefined;
    // A branch left with one leaf collapses into that leaf (except at the root, handled by the map).
    if (node.slots.length === 2 && shift > 0) {
      const other = node.slots[1 - idx];
      if (isLeaf(other)) return other;
    }
    if (node.owner === owner) {
      node.slots.splice(idx, 1);
      node.bitmap &= ~bit;
      return node;
    }
    const slots = node.slots.slice();
    slots.splice(idx, 1);
    return new Branch(owner, node.bitmap & ~bit, slots);
  }
  if (isLeaf(next) && node.slots.length === 1 && shift > 0) return next;
  if (node.owner === owner) {
    node.slots[idx] = next;
    return node;
  }
  const slots = node.slots.slice();
  slots[idx] = next;
  return new Branch(owner, node.bitmap, slots);
}

function* walk<V>(x: Leaf<V> | Node<V>): Generator<Leaf<V>> {
  if (isLeaf(x)) yield x;
  else if (x.t === COLLISION) yield* x.leaves;
  else for (const s of x.slots) yield* walk(s);
}

function forEachLeaf<V>(x: Leaf<V> | Node<V>, fn: (leaf: Leaf<V>) => void): void {
  if (isLeaf(x)) fn(x);
  else if (x.t === COLLISION) x.leaves.forEach(fn);
  else for (const s of x.slots) forEachLeaf(s, fn);
}

export type DiffFn<V> = (key: Key, before: V | undefined, after: V | undefined) => void;

function diffNodes<V>(a: Leaf<V> | Node<V> | undefined, b: Leaf<V> | Node<V> | undefined, shift: number, fn: DiffFn<V>): void {
  if (a === b) return;
  if (a === undefined) return forEachLeaf(b!, (l) => fn(l.key, undefined, l.value));
  if (b === undefined) return forEachLeaf(a, (l) => fn(l.key, l.value, undefined));
  if (a.t === BRANCH && b.t === BRANCH) {
    const bits = a.bitmap | b.bitmap;
    for (let i = 0; i < 32; i++) {
      const bit = 1 << i;
      if ((bits & bit) === 0) continue;
      const sa = a.bitmap & bit ? a.slots[popcount(a.bitmap & (bit - 1))] : undefined;
      const sb = b.bitmap & bit ? b.slots[popcount(b.bitmap & (bit - 1))] : undefined;
      diffNodes(sa, sb, shift + BITS, fn);
    }
    return;
  }
  // Shapes differ (leaf vs branch, collision): compare the few leaves by key.
  const before = new Map<Key, V>();
  forEachLeaf(a, (l) => before.set(l.key, l.value));
  forEachLeaf(b, (l) => {
    const v = before.get(l.key);
    if (!before.has(l.key)) fn(l.key, undefined, l.value);
    else if (v !== l.value) fn(l.key, v, l.value);
    before.delete(l.key);
  });
  for (const [k, v] of before) fn(k, v, undefined);
}

/**
 * A persistent map. Mutating methods take the caller's owner epoch and return the map to use
 * afterwards: `this` when the caller owns it, otherwise a copy that shares all untouched nodes.
 */
export class PMap<V> {
  private constructor(
    public owner: number,
    private root: Branch<V>,
    private count: number,
  ) {}

  static empty<V>(owner: number): PMap<V> {
    return new PMap<V>(owner, new Branch<V>(owner, 0, []), 0);
  }

  get size(): number {
    return this.count;
  }

  get(key: Key): V | undefined {
    const hash = hashKey(key);
    let node: Leaf<V> | Node<V> = this.root;
    let shift = 0;
    for (;;) {
      if (node.t === BRANCH) {
        const bit = 1 << ((hash >>> shift) & MASK);
        if ((node.bitmap & bit) === 0) return undefined;
        node = node.slots[popcount(node.bitmap & (bit - 1))];
        shift += BITS;
      } else if (node.t === LEAF) {
        return node.key === key ? node.value : undefined;
      } else {
        for (const l of node.leaves) if (l.key === key) return l.value;
        return undefined;
      }
    }
  }

  has(key: Key): boolean {
    return this.get(key) !== undefined;
  }

  /** The map to write into for `owner`: this one if owned, else a shallow header copy. */
  editable(owner: number): PMap<V> {
    return this.owner === owner ? this : new PMap(owner, this.root, this.count);
  }

  set(owner: number, key: Key, value: V): PMap<V> {
    const target = this.editable(owner);
    effect = Effect.None;
    const root = setIn(target.root, owner, new Leaf(key, hashKey(key), value), 0) as Branch<V>;
    target.root = root;
    if ((effect as Effect) === Effect.Added) target.count++;
    return target;
  }

  delete(owner: number, key: Key): PMap<V> {
    const target = this.editable(owner);
    effect = Effect.None;
    const root = deleteIn(target.root, owner, key, hashKey(key), 0);
    if ((effect as Effect) !== Effect.Removed) return target;
    target.root = root === undefined ? new Branch<V>(owner, 0, []) : (root as Branch<V>);
    target.count--;
    return target;
  }

  *entries(): Generator<[Key, V]> {
    for (const l of walk(this.root)) yield [l.key, l.value];
  }

  forEach(fn: (value: V, key: Key) => void): void {
    forEachLeaf(this.root, (l) => fn(l.value, l.key));
  }

  keys(): Key[] {
    const out: Key[] = [];
    forEachLeaf(this.root, (l) => out.push(l.key));
    return out;
  }

  /** Calls fn for every key whose value differs (by identity) between this map and `other`. */
  diff(other: PMap<V>, fn: DiffFn<V>): void {
    diffNodes(this.root, other.root, 0, fn);
  }
}
