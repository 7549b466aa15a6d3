import { describe, expect, it } from 'vitest';
import { describeStoreContract } from '../test-support/store-contract.ts';
import { usageEvent } from '../test-support/fixtures.ts';
import { createMemoryStore } from './memory-store.ts';

describeStoreContract('memory', async () => createMemoryStore());

describe('createMemoryStore', () => {
  it('refuses calls after close with a retriable SHUTTING_DOWN error', async () => {
    const store = createMemoryStore();
    await store.close();
    await expect(store.insertUsageEvents([usageEvent()])).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retriable: true });
  });

  it('hands out copies, so a caller mutating a result does not change what is stored', async () => {
    const store = createMemoryStore();
    await store.insertUsageEvents([usageEvent({ attributes: { a: '1' } })]);
    const [first] = await store.listUsageEvents({});
    if (first) first.attributes.a = 'changed';
    expect((await store.listUsageEvents({}))[0]?.attributes).toEqual({ a: '1' });
  });
});
