import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

it('the demo runs end to end and its transcript shows every step and the right outcomes', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--conditions=@vws/source', join(here, '../src/demo.ts')], {
    env: { ...process.env, VWS_DEMO_JSON: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const { steps } = JSON.parse(out.trim().split('\n').at(-1)!) as { steps: Array<{ step: string; result: string }> };
  const result = (name: string) => steps.find((s) => s.step.startsWith(name))?.result;
  expect(steps.length).toBe(13);
  expect(result('diff since "green"')).toBe('~/project/src/math.js');
  expect(result('restore "green"')).toBe('export const add = (a, b) => a + b;');
  expect(result('the main line is untouched')).toBe('math.js, math.test.js');
  expect(result('diff main → alternative')).toContain('/project/src/math.js→/project/src/arith.js');
  expect(result('restore the delta on its parent')).toBe('identical state');
  expect(out).toMatch(/summary: 13 steps/);
});
