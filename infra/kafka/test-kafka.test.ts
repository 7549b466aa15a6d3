import { describe, expect, it } from 'vitest';
import { startTestClickHouse } from '../clickhouse/test-clickhouse.ts';
import { startTestKafka } from './test-kafka.ts';

describe('the servers integration tests run against', () => {
  it('a broker given in KAFKA_BROKERS wins: nothing is started, and stop leaves it alone', async () => {
    const kafka = await startTestKafka({ env: { KAFKA_BROKERS: '10.1.2.3:9092,10.1.2.4:9092' } });
    expect(kafka).toMatchObject({ brokers: '10.1.2.3:9092,10.1.2.4:9092', via: 'KAFKA_BROKERS', local: undefined });
    await kafka.stop();
  });

  it('a ClickHouse server given in CLICKHOUSE_URL wins, with its credentials', async () => {
    const server = await startTestClickHouse({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_USER: 'u', CLICKHOUSE_PASSWORD: 'p' });
    expect(server).toMatchObject({ url: 'http://ch:8123', username: 'u', password: 'p', via: 'CLICKHOUSE_URL' });
  });
});
