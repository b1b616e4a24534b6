import { vwsVitest } from '../../vitest.shared.ts';

export default vwsVitest(import.meta.dirname, { mastraSuites: true });
