import { describe, expect, it } from 'vitest';
import type { FrameEvent } from '../../server/capture/events.ts';
import { findFanOuts, type FanOutRow } from '../../ui/src/lib/fan-outs.ts';

/** Diagram rows built from a little script of the wire, in time order. */
function rows(script: Array<['101', number, number] | ['client' | 'server', number, number, string, (1 | 2)?]>): FanOutRow[] {
  const seq = { client: 0, server: 0 };
  return script.map((s, i) => {
    if (s[0] === '101') return { id: `res${s[1]}`, kind: 'response', conn: s[1], t: s[2] };
    const [dir, conn, t, text, opcode = 1] = s;
    const payload = Buffer.from(text).toString('base64');
    const frame = { type: 'frame', dir, conn, t, tEnd: t + 0.05, fin: true, opcode, payload, length: Buffer.byteLength(text), seq: seq[dir]++ } as unknown as FrameEvent;
    return { id: `r${i}`, kind: 'frame', conn, t, frame };
  });
}

describe('sequence diagram fan-outs', () => {
  it("finds none for lesson 08's starter server: an answer to the sender while a newcomer gets its greeting", () => {
    // A (#1) and B (#2) are there; C (#3) connects and says hello; the server answers C only,
    // and greets #4, which connects at that moment.
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['server', 1, 0.2, 'Hello webSocket'],
        ['101', 2, 50],
        ['server', 2, 50.2, 'Hello webSocket'],
        ['101', 3, 100],
        ['server', 3, 100.2, 'Hello webSocket'],
        ['client', 3, 101, 'hello from peer-c'],
        ['101', 4, 101.5],
        ['server', 3, 101.6, 'I heard you say "hello from peer-c"'],
        ['server', 4, 101.7, 'Hello webSocket'],
      ]),
    );
    expect(found).toEqual([]);
  });

  it('finds none when two different messages go to two connections at the same moment', () => {
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['101', 2, 0],
        ['client', 1, 100, 'hello'],
        ['server', 1, 100.3, 'I heard you say "hello"'],
        ['server', 2, 100.4, 'someone else is typing'],
      ]),
    );
    expect(found).toEqual([]);
  });

  it('finds the same message passed on to the two other peers, and not the greeting of a newcomer', () => {
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['101', 2, 10],
        ['101', 3, 20],
        ['client', 1, 100, 'hello from a'],
        ['101', 4, 100.1],
        ['server', 2, 100.2, 'hello from a'],
        ['server', 4, 100.25, 'Hello webSocket'],
        ['server', 3, 100.3, 'hello from a'],
      ]),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ src: 3, end: 7, peers: 2, toSender: false });
    expect([...found[0]!.members]).toEqual(['r3', 'r5', 'r7']);
  });

  it('says "+ sender" only when the sender got the same message back', () => {
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['101', 2, 10],
        ['101', 3, 20],
        ['client', 2, 100, 'hi'],
        ['server', 1, 100.1, 'hi'],
        ['server', 2, 100.2, 'hi'],
        ['server', 3, 100.3, 'hi'],
      ]),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ peers: 2, toSender: true });
  });

  it('counts an unchanged message passed on to the one other peer, but not an answer to a lone other peer', () => {
    const relay = findFanOuts(rows([['101', 1, 0], ['101', 2, 10], ['client', 1, 100, 'hello from a'], ['server', 2, 100.2, 'hello from a']]));
    expect(relay).toHaveLength(1);
    expect(relay[0]).toMatchObject({ peers: 1, toSender: false });
    const other = findFanOuts(rows([['101', 1, 0], ['101', 2, 10], ['client', 1, 100, 'hello from a'], ['server', 2, 100.2, 'a joined']]));
    expect(other).toEqual([]);
  });

  it('keeps text and binary with the same bytes apart', () => {
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['101', 2, 10],
        ['101', 3, 20],
        ['client', 1, 100, 'abc', 2],
        ['server', 2, 100.2, 'abc', 1],
        ['server', 3, 100.3, 'abc', 2],
      ]),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ peers: 1 });
  });

  it('keeps a broadcast whole when a busy machine reads its copies tens of milliseconds apart', () => {
    const found = findFanOuts(
      rows([
        ['101', 1, 0],
        ['101', 2, 10],
        ['101', 3, 20],
        ['client', 1, 100, 'hello from a'],
        ['server', 2, 100.2, 'hello from a'],
        ['server', 3, 160, 'hello from a'],
      ]),
    );
    expect(found).toHaveLength(1);
    expect(found[0]!.peers).toBe(2);
  });
});
