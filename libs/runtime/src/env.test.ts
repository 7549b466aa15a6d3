import { describe, expect, it } from 'vitest';
import { readKafkaBrokers, readKafkaSendTimeoutMs, readOtlpGrpcPort, readPort, readStoreSettings } from './env.ts';
import { describeStore } from './store.ts';

describe('service env', () => {
  it('prefers a ClickHouse server, with optional credentials and database', () => {
    expect(readStoreSettings({ CLICKHOUSE_URL: 'http://ch:8123', BURNRATE_DATA_DIR: '/d' }, 'sink')).toEqual({
      kind: 'clickhouse',
      url: 'http://ch:8123',
    });
    expect(
      readStoreSettings(
        { CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_USER: 'u', CLICKHOUSE_PASSWORD: 'p', CLICKHOUSE_DATABASE: 'burnrate' },
        'sink',
      ),
    ).toEqual({ kind: 'clickhouse', url: 'http://ch:8123', username: 'u', password: 'p', database: 'burnrate' });
  });

  it('falls back to embedded chdb under BURNRATE_DATA_DIR, and names both options when neither is set', () => {
    expect(readStoreSettings({ BURNRATE_DATA_DIR: '/data' }, 'sink')).toEqual({ kind: 'chdb', dataDir: '/data' });
    expect(() => readStoreSettings({}, 'notifier')).toThrow(/the notifier needs a store: set CLICKHOUSE_URL .*or BURNRATE_DATA_DIR/);
  });

  it('describes the store without credentials', () => {
    const text = describeStore({ kind: 'clickhouse', url: 'http://u:secret@ch:8123', database: 'burnrate' });
    expect(text).toBe('clickhouse http://ch:8123/burnrate');
    expect(describeStore({ kind: 'chdb', dataDir: '/data' })).toMatch(/^chdb \/data\/chdb/);
  });

  it('reads KAFKA_SEND_TIMEOUT_MS as whole milliseconds, unset meaning the bus default', () => {
    expect(readKafkaSendTimeoutMs({})).toBeUndefined();
    expect(readKafkaSendTimeoutMs({ KAFKA_SEND_TIMEOUT_MS: '2500' })).toBe(2500);
    expect(() => readKafkaSendTimeoutMs({ KAFKA_SEND_TIMEOUT_MS: '2s' })).toThrow(/KAFKA_SEND_TIMEOUT_MS must be a whole number.*"2s"/);
    expect(() => readKafkaSendTimeoutMs({ KAFKA_SEND_TIMEOUT_MS: '0' })).toThrow(/at least 1/);
  });

  it('splits KAFKA_BROKERS and rejects what is not host:port', () => {
    expect(readKafkaBrokers({ KAFKA_BROKERS: 'kafka:9092, 10.0.0.2:9093,' }, 'detector')).toEqual(['kafka:9092', '10.0.0.2:9093']);
    expect(() => readKafkaBrokers({}, 'detector')).toThrow(/the detector needs Kafka: set KAFKA_BROKERS/);
    expect(() => readKafkaBrokers({ KAFKA_BROKERS: 'kafka' }, 'detector')).toThrow(/"kafka" is not host:port/);
  });

  it('reads ports', () => {
    expect(readPort({}, 'BURNRATE_PORT', 8787)).toBe(8787);
    expect(readPort({ BURNRATE_PORT: '0' }, 'BURNRATE_PORT', 8787)).toBe(0);
    expect(() => readPort({ BURNRATE_PORT: '70000' }, 'BURNRATE_PORT', 8787)).toThrow(/BURNRATE_PORT must be a port number/);
  });

  it('reads the OTLP/gRPC port: 4317 unless set, off for none', () => {
    expect(readOtlpGrpcPort({})).toBe(4317);
    expect(readOtlpGrpcPort({ BURNRATE_OTLP_GRPC_PORT: '14317' })).toBe(14317);
    expect(readOtlpGrpcPort({ BURNRATE_OTLP_GRPC_PORT: 'off' })).toBeNull();
    expect(() => readOtlpGrpcPort({ BURNRATE_OTLP_GRPC_PORT: 'grpc' })).toThrow(/BURNRATE_OTLP_GRPC_PORT must be a port number/);
  });
});
