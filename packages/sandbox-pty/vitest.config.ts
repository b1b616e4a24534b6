import { vwsVitest } from '../../vitest.shared.ts';

export default vwsVitest(import.meta.dirname, { fuseTeardown: true, mastraSuites: true });
