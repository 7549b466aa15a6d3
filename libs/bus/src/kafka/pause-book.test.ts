import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../port.ts';
import { createPauseBook } from './pause-book.ts';

const events = { topic: 'usage.events.v1', partition: 0 };
const rollups = { topic: 'usage.rollups.v1', partition: 0 };

function recordingBook(): { calls: string[]; book: ReturnType<typeof createPauseBook> } {
  const calls: string[] = [];
  const name = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`;
  const book = createPauseBook({ pause: (tp) => calls.push(`pause ${name(tp)}`), resume: (tp) => calls.push(`resume ${name(tp)}`) });
  return { calls, book };
}

describe('createPauseBook', () => {
  it('pauses at the first reason and resumes only when the last one is lifted', () => {
    const { calls, book } = recordingBook();
    book.pause(events, 'assigning');
    book.pause(events, 'retry');
    book.pause(rollups, 'retry');
    expect(calls).toEqual(['pause usage.events.v1/0', 'pause usage.rollups.v1/0']);
    book.resume(events, 'assigning');
    expect(calls).toHaveLength(2);
    book.resume(events, 'retry');
    expect(calls.at(-1)).toBe('resume usage.events.v1/0');
    // Lifting a reason twice, or one the partition was never paused for, resumes nothing again.
    book.resume(events, 'retry');
    book.resume(rollups, 'stopping');
    expect(calls).toHaveLength(3);
  });

  it('lifts every reason of a partition that is lost', () => {
    const { calls, book } = recordingBook();
    book.pause(events, 'retry');
    book.pause(events, 'stopping');
    book.resume(events);
    expect(calls).toEqual(['pause usage.events.v1/0', 'resume usage.events.v1/0']);
  });

  it('forgets its pauses after a crash without resuming, and pauses again afterwards', () => {
    const { calls, book } = recordingBook();
    book.pause(events, 'retry');
    book.forget();
    book.resume(events);
    book.pause(events, 'assigning');
    expect(calls).toEqual(['pause usage.events.v1/0', 'pause usage.events.v1/0']);
  });
});
