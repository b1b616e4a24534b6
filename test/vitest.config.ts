import { vwsVitest } from '../vitest.shared.ts';

// mastraSuites: Mastra's shared suites (in ../shared) run from here too (e2e/mastra-integration.test.ts).
const config = vwsVitest(import.meta.dirname, { fuseTeardown: true, mastraSuites: true });
config.test!.include = ['e2e/**/*.test.ts', 'install/**/*.test.ts'];
export default config;
