import { mastraTestUtils, vwsVitest } from '../vitest.shared.ts';

const config = vwsVitest(import.meta.dirname, { fuseTeardown: true });
config.test!.include = ['e2e/**/*.test.ts', 'install/**/*.test.ts'];
config.plugins = [mastraTestUtils(import.meta.dirname)];
export default config;
