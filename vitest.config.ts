import { defineConfig } from 'vitest/config';

// Two kinds of test, told apart by name: `x.test.ts` beside `x.ts` (fast, no servers) and
// `*.int.test.ts` (real Kafka, chdb, SMTP, Slack stand-in). Integration files run in their own
// processes because chdb allows one data directory per process.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{schemas,libs,services,infra,scripts}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{schemas,libs,services,infra,scripts}/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          pool: 'forks',
          // One pool of Kafka brokers for the run: suites lease a broker instead of booting their own.
          globalSetup: ['infra/kafka/kafka-pool-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
