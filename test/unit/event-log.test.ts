/**
 * The page's compact event store (ui/src/lib/event-log.ts): every frame and message read back,
 * field by field and by its columns, equals what the stream sent, through the batches' text as
 * the server writes it (escapes, braces inside strings), the cache of batches parsed again, the
 * bounds and the trim.
 */
import { describe, expect, it } from 'vitest';
import type { FrameEvent, MessageEvent, OpenEvent, WireEvent } from '../../server/capture/events.ts';
import { EventList, EventLog, FLAG_APP, FLAG_COMPRESSED } from '../../ui/src/lib/event-log.ts';
import { frameKey, MAX_ROWS, model, sameRow } from '../../ui/src/state.ts';

function frame(conn: number, dir: 'client' | 'server', seq: number, t: number, payload: string): FrameEvent {
  const length = Buffer.from(payload).length;
  return {
    type: 'frame',
    conn,
    t,
    dir,
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: 1,
    masked: dir === 'client',
    maskKey: dir === 'client' ? '0a0b0c0d' : null,
    length,
    lengthEncoding: 7,
    payload: Buffer.from(payload).toString('base64'),
    offset: 200 + seq * 10,
    header: dir === 'client' ? `81${(0x80 | length).toString(16)}0a0b0c0d` : `81${length.toString(16).padStart(2, '0')}`,
    headerLength: dir === 'client' ? 6 : 2,
    tEnd: t + 0.5,
    seq,
    ...(seq % 3 === 2 ? { complete: false } : {}),
  } as FrameEvent;
}

function message(conn: number, dir: 'client' | 'server', seq: number, t: number, text: string): MessageEvent {
  return { type: 'message', conn, t, dir, opcode: 1, length: Buffer.from(text).length, compressed: seq % 8 === 7, firstFrame: seq, lastFrame: seq, frames: 1, data: Buffer.from(text).toString('base64'), text } as unknown as MessageEvent;
}

/** A batch's text exactly as the server writes it (server/app/event-stream.ts). */
const batchText = (from: number, events: WireEvent[]) => `{"kind":"events","from":${from},"events":[${events.map((e) => JSON.stringify(e)).join(',')}]}`;

/** Texts a learner's app may send: JSON's own structure inside strings, escapes, non-ASCII. */
const TEXTS = ['hello', '{"a":[1,2,{"b":"}"}]}', 'quote " and backslash \\ and \\"', '] } , [ {', 'émoji 🎉 ünïcode', '', 'x'.repeat(300)];

function batchOf(from: number, n: number): WireEvent[] {
  const out: WireEvent[] = [];
  for (let i = 0; i < n; i++) {
    const abs = from + i;
    const conn = (abs % 3) + 1;
    const dir = abs % 2 === 0 ? 'client' : 'server';
    const text = TEXTS[abs % TEXTS.length]!;
    if (abs % 4 === 3) out.push(message(conn, dir, abs, abs * 0.25, text));
    else out.push(frame(conn, dir, abs, abs * 0.25, text));
  }
  return out;
}

/** Push one batch with its text, as the page's intake does: the objects JSON.parse made of it. The absolute indices. */
function pushBatch(log: EventLog, from: number, events: WireEvent[]): number[] {
  const text = batchText(from, events);
  const chunk = log.addChunk(text);
  const parsed = (JSON.parse(text) as { events: WireEvent[] }).events;
  return parsed.map((e, j) => log.push(e, chunk, j));
}

function expectColumns(log: EventLog, abs: number, e: WireEvent): void {
  expect(log.t(abs)).toBe(e.t);
  expect(log.type(abs)).toBe(e.type);
  expect(log.conn(abs)).toBe(e.conn);
  if (e.type === 'frame') {
    expect(log.dir(abs)).toBe(e.dir);
    expect(log.lengthOf(abs)).toBe(e.length);
    expect(log.bytes(abs)).toBe(e.headerLength + (e.complete === false ? 0 : e.length));
    expect(log.seq(abs)).toBe(e.seq);
  } else if (e.type === 'message') {
    expect(log.dir(abs)).toBe(e.dir);
    expect(log.lengthOf(abs)).toBe(e.length);
    expect(log.seq(abs)).toBe(e.firstFrame);
    expect(log.flags(abs)).toBe((e.compressed ? FLAG_COMPRESSED : 0) | (e.app ? FLAG_APP : 0));
  }
}

describe('EventLog', () => {
  it('reads back every field and column of what was put, through 60 batches, trims and moves', () => {
    const log = new EventLog();
    const put = new Map<number, WireEvent>();
    let from = 0;
    for (let b = 0; b < 60; b++) {
      const events = batchOf(from, 100 + (b % 7) * 13);
      pushBatch(log, from, events).forEach((abs, j) => put.set(abs, events[j]!));
      from += events.length;
      // Let the oldest go now and then, as the model's bound does: the rest moves down.
      if (b % 5 === 4) log.dropFront(Math.floor(log.length / 2));
    }
    expect(log.base + log.length).toBe(from);
    for (let abs = log.base; abs < log.base + log.length; abs++) {
      const e = put.get(abs)!;
      expect(log.get(abs)).toEqual(e);
      expectColumns(log, abs, e);
    }
    expect(log.at(0)).toEqual(put.get(log.base));
    expect(log.at(-1)).toEqual(put.get(from - 1));
    // Read again after every batch was parsed again and most left the cache: the same events.
    for (let abs = log.base + log.length - 1; abs >= log.base; abs -= 37) expect(log.get(abs)).toEqual(put.get(abs));
  });

  it('gives the same object for an event read twice while its batch is cached', () => {
    const log = new EventLog();
    const [a] = pushBatch(log, 0, batchOf(0, 10));
    expect(log.get(a!)).toBe(log.get(a!));
  });

  it('answers nothing outside what it holds', () => {
    const log = new EventLog();
    pushBatch(log, 0, batchOf(0, 50));
    log.dropFront(20);
    expect(log.base).toBe(20);
    expect(log.get(19)).toBeUndefined();
    expect(log.get(50)).toBeUndefined();
    expect(log.at(30)).toBeUndefined();
    expect(log.get(20)).toEqual(batchOf(0, 50)[20]);
    log.dropFront(1000);
    expect(log.length).toBe(0);
    expect(log.get(49)).toBeUndefined();
  });

  it('keeps events with no text, and the few others, as the very objects given', () => {
    const log = new EventLog();
    const open: OpenEvent = { type: 'open', conn: 4, t: 1, client: 'c', target: 's' };
    const f = frame(4, 'server', 0, 2, 'hi');
    const a = log.push(open);
    const b = log.push(f);
    expect(log.get(a)).toBe(open);
    expect(log.get(b)).toBe(f);
    expectColumns(log, b, f);
    // A stale chunk id (a reset happened meanwhile) is never read as another batch's text.
    const c = log.push(frame(4, 'server', 1, 3, 'x'), 12345, 0);
    expect(log.get(c)).toEqual(frame(4, 'server', 1, 3, 'x'));
  });
});

describe('EventList', () => {
  it('holds absolute indices, reads their events, and trims at the front', () => {
    const log = new EventLog();
    const events = batchOf(0, 3000);
    const abs = pushBatch(log, 0, events);
    const list = new EventList<WireEvent>(log);
    for (const a of abs) if (a % 2 === 1) list.push(a);
    expect(list.length).toBe(1500);
    expect(list.at(0)).toEqual(events[1]);
    expect(list.at(-1)).toEqual(events[2999]);
    expect(list.at(1500)).toBeUndefined();
    expect(list.countBelow(1001)).toBe(500);
    list.dropFront(500);
    expect(list.abs(0)).toBe(1001);
    expect(list.at(0)).toEqual(events[1001]);
    expect(list.slice(-2)).toEqual([events[2997], events[2999]]);
    for (let i = 0; i < 2000; i++) list.push(3001 + i); // grows (and moves) past its first 1024 places
    expect(list.abs(1000)).toBe(3001);
    expect(list.length).toBe(3000);
  });
});

describe('Model on the compact store', () => {
  it('finds each frame by its key, and forgets the keys of frames the bound trims', () => {
    model.reset();
    const events = batchOf(0, 400);
    const chunk = model.events.addChunk(batchText(0, events));
    events.forEach((e, j) => model.apply(e, chunk, j));
    model.trim();
    const frames = events.filter((e): e is FrameEvent => e.type === 'frame');
    expect(model.frames.length).toBe(frames.length);
    for (const f of frames) expect(model.framesByKey.get(frameKey(f.conn, f.dir, f.seq))).toEqual(f);
    expect(model.messages.at(0)).toEqual(events.find((e) => e.type === 'message'));
    expect(model.frameRows.at(-1)).toEqual(frames.at(-1));
    model.reset();
    expect(model.framesByKey.get(frameKey(frames[0]!.conn, frames[0]!.dir, frames[0]!.seq))).toBeUndefined();
    expect(model.events.length).toBe(0);
  });

  it('holds at most MAX_ROWS frames: the oldest leave the list, their keys and the log together', () => {
    model.reset();
    const total = MAX_ROWS + 40_000;
    for (let from = 0; from < total; from += 500) {
      const events: WireEvent[] = [];
      for (let i = from; i < from + 500; i++) events.push(frame(1 + (i % 2), i % 4 < 2 ? 'client' : 'server', Math.floor(i / 4), i, 'x'));
      const chunk = model.events.addChunk(batchText(from, events));
      events.forEach((e, j) => model.apply(e, chunk, j));
      model.trim();
    }
    expect(model.frames.length).toBeLessThanOrEqual(MAX_ROWS);
    expect(model.trimmed + model.frames.length).toBe(total);
    expect(model.frameRowsTrimmed + model.frameRows.length).toBe(total);
    // Frame i was the i-th applied: the first held is the first not trimmed, the newest the last applied.
    const first = model.frames.at(0)!;
    expect(first.t).toBe(model.trimmed);
    expect(model.frames.at(-1)!.t).toBe(total - 1);
    expect(model.framesByKey.get(frameKey(first.conn, first.dir, first.seq))).toEqual(first);
    const gone = model.trimmed - 1;
    expect(model.framesByKey.has(frameKey(1 + (gone % 2), gone % 4 < 2 ? 'client' : 'server', Math.floor(gone / 4)))).toBe(false);
    model.reset();
  });

  it('knows a message row made again from its text for the one selected', () => {
    const a = message(1, 'client', 7, 3.5, 'hi');
    expect(sameRow(a, JSON.parse(JSON.stringify(a)) as MessageEvent)).toBe(true);
    expect(sameRow(a, message(1, 'client', 8, 3.5, 'hi'))).toBe(false);
    expect(sameRow(a, message(1, 'server', 7, 3.5, 'hi'))).toBe(false);
  });
});
