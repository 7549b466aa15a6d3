import type { TestProject } from 'vitest/node';
import { createKafkaPool, serveKafkaPool } from './kafka-pool.ts';

/**
 * Global setup of the integration project: one pool of test brokers for the whole run, in the
 * runner's process. Nothing starts here; the first suite that leases a broker starts one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pool = createKafkaPool({ log: (message) => console.log(message) });
  const server = await serveKafkaPool(pool);
  project.provide('burnrateKafkaPool', server.url);
  return async () => {
    await server.close();
    await pool.close();
  };
}
