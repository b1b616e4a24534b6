import { mergeConfig } from 'vitest/config';
import { vwsVitest } from '../../vitest.shared.ts';

// A throwaway Postgres for the run; the FUSE teardown check because one test mounts a workspace.
export default mergeConfig(vwsVitest(import.meta.dirname, { testTimeout: 60_000, fuseTeardown: true }), { test: { globalSetup: ['./test/global-setup.ts'] } });
