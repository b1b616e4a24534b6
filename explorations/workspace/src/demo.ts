// The vws demo: an agent-style session on the in-memory inode filesystem. It builds a small project,
// checkpoints it (an O(1) fork), breaks something, sees what changed, rolls back, forks to try an
// alternative, and persists the result as a delta snapshot. Every step prints what it did and its time.

import { InodeFs } from '@vws/inode-fs';

const steps: Array<{ step: string; ms: number; result: string }> = [];

function step<T>(name: string, fn: () => T, show: (value: T) => string = (v) => String(v ?? 'ok')): T {
  const t0 = performance.now();
  const value = fn();
  const ms = performance.now() - t0;
  const result = show(value);
  steps.push({ step: name, ms, result });
  console.log(`• ${name.padEnd(44)} ${ms.toFixed(3).padStart(9)} ms  ${result}`);
  return value;
}

const files = (d: { added: { path: string }[]; modified: { path: string }[]; deleted: { path: string }[]; renamed: { path: string; oldPath?: string }[] }) =>
  [
    ...d.added.map((c) => `+${c.path}`),
    ...d.modified.map((c) => `~${c.path}`),
    ...d.deleted.map((c) => `-${c.path}`),
    ...d.renamed.map((c) => `${c.oldPath}→${c.path}`),
  ].join(' ') || '(no changes)';

console.log('vws demo — an in-memory inode workspace\n');
const ws = new InodeFs();

step('write a small program and its test', () => {
  ws.mkdir('/project/src', { recursive: true });
  ws.writeFile('/project/src/math.js', 'export const add = (a, b) => a + b;\n');
  ws.writeFile('/project/src/math.test.js', "import { add } from './math.js';\nif (add(2, 2) !== 4) throw new Error('add is broken');\n");
  ws.writeFile('/project/README.md', '# project\n');
  return ws.readdir('/project/src').join(', ');
});

const checkpoint = step('checkpoint "green" (O(1) fork)', () => ws.fork(), () => 'saved');

step('break the program', () => ws.writeFile('/project/src/math.js', 'export const add = (a, b) => a - b;\n'));

step('diff since "green"', () => checkpoint.diff(ws), files);

step('restore "green" (reset to the checkpoint)', () => {
  ws.reset(checkpoint);
  return ws.readFile('/project/src/math.js', 'utf8').trim();
});

const alt = step('fork to try an alternative', () => ws.fork(), () => 'forked');
step('alternative: rename and add a module', () => {
  alt.rename('/project/src/math.js', '/project/src/arith.js');
  alt.writeFile('/project/src/mul.js', 'export const mul = (a, b) => a * b;\n');
  alt.symlink('arith.js', '/project/src/math.js');
  return alt.readFile('/project/src/math.js', 'utf8').trim();
});
step('the main line is untouched', () => ws.readdir('/project/src').join(', '));
step('diff main → alternative', () => ws.diff(alt), files);

const full = step('full snapshot of the alternative', () => alt.snapshot(), (b) => `${b.length} bytes`);
const delta = step('delta snapshot against "green"', () => alt.snapshot({ since: checkpoint }), (b) => `${b.length} bytes`);
step('restore the delta on its parent', () => InodeFs.restore(delta, { parent: checkpoint }).fingerprint() === alt.fingerprint(), (same) => (same ? 'identical state' : 'MISMATCH'));
step('restore the full snapshot', () => InodeFs.restore(full).readdir('/project/src').join(', '));

const total = steps.reduce((s, x) => s + x.ms, 0);
console.log(`\nsummary: ${steps.length} steps in ${total.toFixed(2)} ms; files in the alternative: ${alt.usage().inodes - 1}, bytes: ${alt.usage().bytes}`);
if (process.env.VWS_DEMO_JSON) console.log(JSON.stringify({ steps }));
