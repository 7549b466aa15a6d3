import { dockerEngineRuns } from '../kafka/test-kafka.ts';

/**
 * The ClickHouse server integration tests run against, from the first of:
 * 1. `CLICKHOUSE_URL` (+ CLICKHOUSE_USER, CLICKHOUSE_PASSWORD): a server someone started on purpose;
 * 2. a Docker engine: a throwaway server in a container, through testcontainers;
 * otherwise null, and the server suite is skipped: the same store code then runs against chdb,
 * the ClickHouse engine embedded in the process (its own suites, always).
 */

type Env = Readonly<Record<string, string | undefined>>;

export const CLICKHOUSE_TEST_IMAGE = 'clickhouse/clickhouse-server:25.8';

export interface TestClickHouse {
  url: string;
  username?: string;
  password?: string;
  via: 'CLICKHOUSE_URL' | 'testcontainers';
  stop(): Promise<void>;
}

export async function startTestClickHouse(env: Env = process.env): Promise<TestClickHouse | null> {
  if (env.CLICKHOUSE_URL !== undefined) {
    return {
      url: env.CLICKHOUSE_URL,
      ...(env.CLICKHOUSE_USER === undefined ? {} : { username: env.CLICKHOUSE_USER }),
      ...(env.CLICKHOUSE_PASSWORD === undefined ? {} : { password: env.CLICKHOUSE_PASSWORD }),
      via: 'CLICKHOUSE_URL',
      stop: async () => {},
    };
  }
  if (!(await dockerEngineRuns())) return null;
  const { ClickHouseContainer } = await import('@testcontainers/clickhouse');
  const container = await new ClickHouseContainer(CLICKHOUSE_TEST_IMAGE).start();
  return {
    url: container.getHttpUrl(),
    username: container.getUsername(),
    password: container.getPassword(),
    via: 'testcontainers',
    stop: async () => {
      await container.stop();
    },
  };
}
