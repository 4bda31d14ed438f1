import { describe, expect, it } from 'vitest';
import { PendingIds } from '../../server/protocol/app/pending.ts';

// The table the decoders keep their unanswered ids in (JSON-RPC requests, MQTT Packet
// Identifiers, STOMP receipts, GraphQL operations): what a replyTo can point at.
describe('PendingIds: ids waiting for their answer, bounded', () => {
  it('answers each id once, and counts only what waits (its table-keeping entry is no id)', () => {
    const t = new PendingIds<string | number, string>(4);
    expect(t.size).toBe(0);
    expect(t.oldest()).toBeUndefined();
    t.remember(1, 'request 1');
    t.remember('1', 'request "1"');
    expect(t.size).toBe(2);
    // 1 and "1" are different ids (JSON-RPC tells them apart).
    expect(t.take(1)).toBe('request 1');
    expect(t.take(1)).toBeUndefined();
    expect(t.has('1')).toBe(true);
    expect(t.take('1')).toBe('request "1"');
    expect(t.size).toBe(0);
    // Emptied and filled again, over and over (one request in flight at a time): still right.
    for (let i = 0; i < 1000; i++) {
      t.remember(i, `request ${i}`);
      expect(t.size).toBe(1);
      expect(t.take(i)).toBe(`request ${i}`);
    }
    expect(t.size).toBe(0);
  });

  it('forgets the oldest past its bound; an id remembered again is the newest', () => {
    const t = new PendingIds<number, string>(3);
    for (const id of [1, 2, 3]) t.remember(id, `r${id}`);
    t.remember(1, 'r1 again');
    t.remember(4, 'r4');
    expect(t.size).toBe(3);
    // 2 was the oldest once 1 was remembered again.
    expect(t.get(2)).toBeUndefined();
    expect(t.oldest()).toBe(3);
    expect([t.take(3), t.take(1), t.take(4)]).toEqual(['r3', 'r1 again', 'r4']);
    for (let id = 0; id < 100; id++) t.remember(id, `r${id}`);
    expect(t.size).toBe(3);
    expect([t.get(96), t.get(97), t.get(98), t.get(99)]).toEqual([undefined, 'r97', 'r98', 'r99']);
  });
});
