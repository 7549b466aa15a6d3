import { describe, expect, it } from 'vitest';
import {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} from 'kafkajs';
import { BurnrateError, isRetriable } from '@burnrate/core';
import { isRebalanceError, translateKafkaError } from './kafka-errors.ts';

// The broker's answer as kafkajs builds it (src/protocol/error.js): type, code, retriable.
const protocol = (type: string, code: number, retriable: boolean, message = `broker says ${type}`) =>
  new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable }));
// What producer.send rejects with once kafkajs's retrier gives up.
const exhausted = (cause: Error) => new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 1000 });

describe('translateKafkaError', () => {
  it('makes connection loss, timeouts and moving leaders retriable BUS_UNAVAILABLE, naming the topic', () => {
    const cases = [
      new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
      exhausted(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')),
      exhausted(protocol('LEADER_NOT_AVAILABLE', 5, true)),
      exhausted(protocol('NOT_ENOUGH_REPLICAS', 19, true)),
      protocol('REQUEST_TIMED_OUT', 7, true),
    ];
    for (const err of cases) {
      const translated = translateKafkaError(err, { operation: 'send', topic: 'usage.events.v1' });
      expect(translated).toBeInstanceOf(BurnrateError);
      expect(translated.code).toBe('BUS_UNAVAILABLE');
      expect(isRetriable(translated)).toBe(true);
      expect(translated.message).toContain('topic usage.events.v1');
      expect(translated.cause).toBe(err);
    }
  });

  it('rejects too-large messages for good, saying what to change', () => {
    const err = translateKafkaError(protocol('MESSAGE_TOO_LARGE', 10, false), { operation: 'send', topic: 'anomalies.v1' });
    expect(err.code).toBe('INPUT_TOO_LARGE');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/^send to topic anomalies\.v1: .*too large.*max\.message\.bytes/);
  });

  it('treats an unknown topic as a missing topic, not a transient state, even after kafkajs retried it', () => {
    const err = translateKafkaError(exhausted(protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, true)), {
      operation: 'send',
      topic: 'usage.evnets.v1',
    });
    expect(err.code).toBe('NOT_FOUND');
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('usage.evnets.v1');
    expect(err.message).toContain('ensureTopics');
    expect(err.details).toMatchObject({ kafkaError: 'UNKNOWN_TOPIC_OR_PARTITION', topic: 'usage.evnets.v1' });
  });

  it('maps authorization and topic-creation mistakes to non-retriable codes', () => {
    expect(translateKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', 29, false), { operation: 'send', topic: 't' }).code).toBe(
      'UNAUTHORIZED',
    );
    const rf = translateKafkaError(
      new KafkaJSAggregateError('Topic creation errors', [
        protocol('TOPIC_ALREADY_EXISTS', 36, false),
        protocol('INVALID_REPLICATION_FACTOR', 38, false),
      ]),
      { operation: 'ensureTopics', topic: 'a,b' },
    );
    expect([rf.code, rf.retriable]).toEqual(['CONFIG_INVALID', false]);
    expect(rf.message).toContain('replication factor');
  });

  it('keeps kafkajs retriable verdict for broker states it does not list, and refuses to retry unknown non-retriable ones', () => {
    expect(translateKafkaError(protocol('COORDINATOR_LOAD_IN_PROGRESS', 14, true), { operation: 'commit', groupId: 'g' }).retriable).toBe(
      true,
    );
    const odd = translateKafkaError(new KafkaJSNonRetriableError('Invalid offset, expected a long received x'), {
      operation: 'commit',
      groupId: 'g',
    });
    expect([odd.code, odd.retriable]).toEqual(['BUS_UNAVAILABLE', false]);
    expect(odd.message).toContain('group g');
    expect(translateKafkaError(new TypeError('boom'), { operation: 'send' }).retriable).toBe(false);
  });

  it('passes BurnrateErrors through untouched', () => {
    const original = new BurnrateError('BUS_CLOSED', 'closed');
    expect(translateKafkaError(original, { operation: 'send' })).toBe(original);
  });
});

describe('isRebalanceError', () => {
  it('recognises rebalance answers however deep kafkajs wrapped them', () => {
    expect(isRebalanceError(protocol('REBALANCE_IN_PROGRESS', 27, false))).toBe(true);
    expect(isRebalanceError(exhausted(protocol('ILLEGAL_GENERATION', 22, false)))).toBe(true);
    expect(isRebalanceError(protocol('LEADER_NOT_AVAILABLE', 5, true))).toBe(false);
    expect(isRebalanceError(new Error('x'))).toBe(false);
  });
});
