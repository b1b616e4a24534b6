import { mergeConfig } from 'vitest/config';
import { vwsVitest } from '../../vitest.shared.ts';

export default mergeConfig(vwsVitest(import.meta.dirname, { testTimeout: 60_000 }), { test: { globalSetup: ['./test/global-setup.ts'] } });
