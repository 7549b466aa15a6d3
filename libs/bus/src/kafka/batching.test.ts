import { describe, expect, it } from 'vitest';
import { Partitioners, type IHeaders, type KafkaMessage } from 'kafkajs';
import { partitionFor } from '../partitioner.ts';
import {
  assignmentDiff,
  backoffDelay,
  chunk,
  decodeHeaders,
  flattenAssignment,
  nextOffset,
  parseOffset,
  partitionLag,
  toConsumedMessage,
} from './batching.ts';

describe('chunk', () => {
  it('never hands the handler more than the limit, keeps order and drops nothing', () => {
    const items = Array.from({ length: 2501 }, (_, i) => i);
    const parts = chunk(items, 1000);
    expect(parts.map((p) => p.length)).toEqual([1000, 1000, 501]);
    expect(parts.flat()).toEqual(items);
  });

  it('returns no chunk for no messages and rejects a useless size', () => {
    expect(chunk([], 10)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(/positive integer/);
    expect(() => chunk([1], 1.5)).toThrow(/positive integer/);
  });
});

describe('offset math', () => {
  it('commits the next offset to read, beyond 2^53', () => {
    expect(nextOffset('0')).toBe(1n);
    expect(nextOffset('41')).toBe(42n);
    expect(nextOffset('9223372036854775806')).toBe(9223372036854775807n);
  });

  it('rejects offsets that are not decimal non-negative integers, naming the value', () => {
    expect(() => parseOffset('-1', 'start offset')).toThrow(/start offset must be a non-negative integer.*"-1"/);
    expect(() => parseOffset('1e3', 'offset')).toThrow(/"1e3"/);
    expect(() => parseOffset('', 'offset')).toThrow(RangeError);
  });

  it('computes lag from the high watermark and the next offset to process', () => {
    expect(partitionLag(10n, 4n)).toBe(6);
    expect(partitionLag(10n, 10n)).toBe(0);
    // A position past the watermark (fetched a newer one later) is never negative lag.
    expect(partitionLag(10n, 12n)).toBe(0);
    expect(partitionLag(undefined, 3n)).toBe(0);
    expect(partitionLag(5n, undefined)).toBe(0);
  });

  it('backs off exponentially up to a cap', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(a, 200, 1000))).toEqual([200, 400, 800, 1000, 1000]);
  });
});

describe('assignments', () => {
  it('flattens kafkajs member assignments in a stable order', () => {
    expect(flattenAssignment({ b: [1, 0], a: [2] })).toEqual([
      { topic: 'a', partition: 2 },
      { topic: 'b', partition: 0 },
      { topic: 'b', partition: 1 },
    ]);
  });

  it('tells what a member gained, lost and kept in a rebalance', () => {
    const diff = assignmentDiff(
      ['t:0', 't:1', 't:2'],
      [
        { topic: 't', partition: 1 },
        { topic: 't', partition: 3 },
      ],
    );
    expect(diff.added).toEqual([{ topic: 't', partition: 3 }]);
    expect(diff.revoked).toEqual(['t:0', 't:2']);
    expect(diff.kept).toEqual(['t:1']);
  });
});

describe('messages', () => {
  // The record-batch shape kafkajs returns for every broker since Kafka 0.11.
  const message = (over: Partial<Pick<KafkaMessage, 'key' | 'value'>> & { headers?: IHeaders } = {}): KafkaMessage => ({
    key: Buffer.from('org:dev'),
    value: Buffer.from('{"a":1}'),
    timestamp: '1700000000123',
    attributes: 0,
    offset: '7',
    headers: {},
    ...over,
  });

  it('decodes key, value, timestamp and headers as text', () => {
    expect(toConsumedMessage('t', 2, message({ headers: { trace: Buffer.from('abc'), plain: 'x' } }))).toEqual({
      topic: 't',
      partition: 2,
      offset: '7',
      key: 'org:dev',
      value: '{"a":1}',
      headers: { trace: 'abc', plain: 'x' },
      timestamp: 1700000000123,
    });
  });

  it('maps a null key or tombstone to empty text and keeps the last of repeated headers', () => {
    const m = toConsumedMessage('t', 0, message({ key: null, value: null }));
    expect([m.key, m.value]).toEqual(['', '']);
    expect(decodeHeaders({ h: [Buffer.from('first'), 'last'], gone: undefined })).toEqual({ h: 'last' });
  });
});

describe('producer partitioner', () => {
  it("kafkajs's DefaultPartitioner puts every key where the in-process bus does", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 6, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
        offlineReplicas: [],
      }));
      for (let i = 0; i < 500; i++) {
        const key = `org-${i % 7}:developer-${i}@example.com`;
        expect(partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } })).toBe(partitionFor(key, partitions));
      }
    }
  });
});
