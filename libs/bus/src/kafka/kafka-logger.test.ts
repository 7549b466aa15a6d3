import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logLevel } from 'kafkajs';
import { createLogger } from '@burnrate/core';
import { kafkaLogCreator, kafkaLogLevel } from './kafka-logger.ts';

function capture(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

describe('kafkaLogCreator', () => {
  it('writes kafkajs entries through pino as child component kafkajs, with their fields', async () => {
    const { log, lines } = capture();
    const write = kafkaLogCreator(log)(logLevel.DEBUG);
    write({
      namespace: 'Consumer',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: '2026-01-01T00:00:00.000Z', message: 'Crash: KafkaJSNumberOfRetriesExceeded', groupId: 'g', retryCount: 5 },
    });
    write({
      namespace: 'ConsumerGroup',
      level: logLevel.INFO,
      label: 'INFO',
      log: { timestamp: 't', message: 'Consumer has joined the group' },
    });
    write({ namespace: 'Connection', level: logLevel.DEBUG, label: 'DEBUG', log: { timestamp: 't', message: 'Request Fetch' } });
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.component, l.namespace, l.msg])).toEqual([
      ['error', 'kafkajs', 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded'],
      ['info', 'kafkajs', 'ConsumerGroup', 'Consumer has joined the group'],
      ['debug', 'kafkajs', 'Connection', 'Request Fetch'],
    ]);
    expect(lines[0]).toMatchObject({ groupId: 'g', retryCount: 5 });
  });

  it('logs broker error answers that kafkajs retries as warnings', async () => {
    const { log, lines } = capture();
    kafkaLogCreator(log)(logLevel.INFO)({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: 't', message: 'Response Heartbeat(key: 12, version: 3)', error: 'The group is rebalancing, so a rejoin is needed' },
    });
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.level)).toEqual(['warn']);
  });

  it('asks kafkajs only for the entries pino will keep', () => {
    expect(kafkaLogLevel(capture('silent').log)).toBe(logLevel.NOTHING);
    expect(kafkaLogLevel(capture('error').log)).toBe(logLevel.ERROR);
    expect(kafkaLogLevel(capture('warn').log)).toBe(logLevel.WARN);
    expect(kafkaLogLevel(capture('info').log)).toBe(logLevel.INFO);
    expect(kafkaLogLevel(capture('trace').log)).toBe(logLevel.DEBUG);
  });
});
