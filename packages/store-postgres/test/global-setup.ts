// One throwaway cluster for the whole test run (or VWS_TEST_PG_URL: an existing server to use instead).
import type { TestProject } from 'vitest/node';
import { startCluster } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const existing = process.env.VWS_TEST_PG_URL;
  if (existing) {
    project.provide('pgUrl', existing);
    return () => {};
  }
  const cluster = await startCluster();
  project.provide('pgUrl', cluster.url);
  return () => cluster.stop();
}
