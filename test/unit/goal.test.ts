import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { summarize } from '../../server/app/lesson-check.ts';
import type { CheckReport } from '../../server/app/check-reporter.ts';
import {
  CHECK_GOAL_MAX_ARROWS,
  CHECK_GOAL_MAX_TEXT,
  checkGoalOf,
  compareGoal,
  describeDifference,
  flatArrows,
  globMatch,
  goalProblem,
  predictProblem,
  readCheckGoal,
  readOutcome,
  type Goal,
  type PredictFile,
} from '../../lessons/harness/goal.ts';

/** A small wire, written as the wiretap reports it: one event per call, time going on by 1 ms. */
class WireBuilder {
  events: WireEvent[] = [];
  private t = 0;
  private seq = new Map<string, number>();
  private next(conn: number, dir: 'client' | 'server'): number {
    const k = `${conn}${dir}`;
    const n = this.seq.get(k) ?? 0;
    this.seq.set(k, n + 1);
    return n;
  }
  private push(e: Record<string, unknown>): this {
    this.events.push({ t: ++this.t, ...e } as unknown as WireEvent);
    return this;
  }
  open(conn: number, opts: { status?: number; acceptValid?: boolean } = {}): this {
    this.push({ type: 'open', conn, client: '127.0.0.1:1', target: '127.0.0.1:2' });
    const status = opts.status ?? 101;
    return this.push({
      type: 'handshake',
      conn,
      outcome: status === 101 ? 'upgraded' : 'refused',
      request: { method: 'GET', path: '/', version: 'HTTP/1.1', headers: [], raw: '', t: this.t + 1 },
      response: { status, reason: '', version: 'HTTP/1.1', headers: [], raw: '', t: this.t + 1 },
      acceptValid: opts.acceptValid ?? status === 101,
    });
  }
  text(conn: number, dir: 'client' | 'server', text: string): this {
    const f = this.next(conn, dir);
    return this.push({ type: 'message', conn, dir, opcode: 1, text, length: Buffer.byteLength(text), compressed: false, frames: 1, firstFrame: f, lastFrame: f });
  }
  control(conn: number, dir: 'client' | 'server', type: 'ping' | 'pong'): this {
    return this.push({ type, conn, dir, payload: '', frame: this.next(conn, dir) });
  }
  close(conn: number, dir: 'client' | 'server', code: number, reason = ''): this {
    return this.push({ type: 'close', conn, dir, code, reason, explanation: '', frame: this.next(conn, dir) });
  }
  end(conn: number, by: 'client' | 'server' | 'wiretap', code: number | null): this {
    return this.push({ type: 'end', conn, by, clean: false, code, serverCode: code, explanation: '' });
  }
  get now(): number {
    return this.t;
  }
}

const lessons = join(import.meta.dirname, '..', '..', 'lessons');
const goalOf = (slug: string) => JSON.parse(readFileSync(join(lessons, slug, 'goal.json'), 'utf8')) as Goal;
const predictOf = (slug: string) => JSON.parse(readFileSync(join(lessons, slug, 'predict.json'), 'utf8')) as PredictFile;

describe('globMatch', () => {
  it('matches * as any run of characters and the rest literally', () => {
    expect(globMatch('hello from *', 'hello from peer-1x2y')).toBe(true);
    expect(globMatch('hello from *', 'hi peer-1x2y')).toBe(false);
    expect(globMatch('a*b*c', 'aXXbYYc')).toBe(true);
    expect(globMatch('a*b*c', 'acb')).toBe(false);
    expect(globMatch('ab*ba', 'aba')).toBe(false);
    expect(globMatch('exact', 'exact')).toBe(true);
  });
});

describe('the lessons’ goal and predict files', () => {
  for (const slug of ['08-server-as-go-between', '09-closing', '10-heartbeats', '13-deploying']) {
    it(`${slug}/goal.json is a goal`, () => expect(goalProblem(goalOf(slug))).toBeNull());
  }
  for (const slug of ['02-upgrade-handshake', '04-sending-too-early', '06-utf8-and-fromcharcode', '09-closing', '10-heartbeats', '13-deploying']) {
    it(`${slug}/predict.json is a prediction file`, () => expect(predictProblem(predictOf(slug))).toBeNull());
  }
  it('names what is wrong in a malformed goal', () => {
    expect(goalProblem({ version: 1, step: 1, title: 't', peers: ['A'], match: 'strict', sequence: [{ from: 'A', to: 'B', kind: 'text' }] })).toMatch(/from and to are a peer and the server/);
    expect(goalProblem({ version: 1, step: 1, title: 't', peers: ['A'], match: 'strict', sequence: [{ from: 'A', to: 'server', kind: 'shout' }] })).toMatch(/kind must be one of/);
    expect(predictProblem({ version: 1, predictions: [{ id: 'x', step: 1, then: 't', question: 'q', explain: 'e', choices: [{ id: 'a', text: 'A' }, { id: 'b', text: 'B' }], answer: 'c', outcomes: [] }] })).toMatch(/answer is not one of the choices/);
  });
});

describe('compareGoal: lesson 08, a hello fans out to the others', () => {
  const goal = goalOf('08-server-as-go-between');
  const three = () => new WireBuilder().open(1).open(2).open(3);

  it('follows a go-between that relays to the others only, with other messages in between', () => {
    const w = three()
      .text(1, 'server', 'Hello webSocket')
      .text(3, 'client', 'hello from peer-c')
      .text(2, 'server', 'Hello webSocket')
      .text(1, 'server', 'hello from peer-c')
      .text(2, 'server', 'hello from peer-c')
      .text(2, 'client', 'hi peer-c, peer-b here')
      .text(1, 'client', 'hi peer-c, peer-a here')
      .text(3, 'server', 'hi peer-c, peer-b here')
      .text(3, 'server', 'hi peer-c, peer-a here')
      .text(2, 'server', 'hi peer-c, peer-a here');
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(r.difference).toBeNull();
    expect(r.complete).toBe(true);
    expect(r.peers).toEqual({ A: 1, B: 2, C: 3 });
  });

  it('marks the echo back to the sender, the one a relay must not send', () => {
    const w = three().text(3, 'client', 'hello from peer-c').text(3, 'server', 'hello from peer-c').text(1, 'server', 'hello from peer-c').text(2, 'server', 'hello from peer-c');
    const r = compareGoal(goal, w.events, { now: w.now });
    const flat = flatArrows(goal);
    expect(r.difference).not.toBeNull();
    expect(flat[r.difference!.index]!.arrow).toMatchObject({ to: 'C', never: true });
    expect(r.difference!.got).toContain('server → C: TEXT "hello from peer-c" (#3 frame 0)');
  });

  it('waits while the peers may still talk, then marks the relay that never came', () => {
    // An echo server: the hello comes back wrapped, to C only.
    const w = three().text(3, 'client', 'hello from peer-c').text(3, 'server', 'I heard you say "hello from peer-c"');
    const soon = compareGoal(goal, w.events, { now: w.now + 100 });
    expect(soon.difference).toBeNull();
    expect(soon.arrows[1]!.state).toBe('waiting');
    const later = compareGoal(goal, w.events, { now: w.now + 5000 });
    expect(later.difference?.index).toBe(1);
    expect(later.difference?.expected).toBe("server → A: C's hello, as it came");
    expect(later.difference?.got).toMatch(/went quiet/);
  });
});

describe('compareGoal: lesson 09, close with 1000 and stay away', () => {
  const goal = goalOf('09-closing');
  const job = (w: WireBuilder, conn: number) => {
    w.text(conn, 'server', 'Hello webSocket');
    for (let i = 1; i < 4; i++) w.text(conn, 'server', `working: step ${i} of 4`);
    return w.text(conn, 'server', 'done: the answer is 42');
  };

  it('follows a client that closes with 1000 and does not come back', () => {
    const w = job(new WireBuilder().open(4), 4).close(4, 'client', 1000, 'got the answer').close(4, 'server', 1000, 'got the answer').end(4, 'server', 1000);
    const r = compareGoal(goal, w.events, { fromConn: 4, now: w.now + 5000 });
    expect(r.difference).toBeNull();
    expect(r.complete).toBe(true);
  });

  it('marks the missing close of a client that never says goodbye, once the wire is quiet', () => {
    const w = job(new WireBuilder().open(1), 1);
    const r = compareGoal(goal, w.events, { now: w.now + 5000 });
    expect(r.difference?.expected).toBe('client → server: CLOSE 1000 and a reason');
  });

  it('says the difference in a sentence a check can print', () => {
    const w = job(new WireBuilder().open(1), 1).close(1, 'client', 4000, 'bye');
    expect(describeDifference(goal, compareGoal(goal, w.events, { now: w.now }))).toBe(
      'The conversation leaves the goal ("The job, then a closing handshake, and no coming back") at arrow 6: the goal has client → server: CLOSE 1000 and a reason; the wire has client → server: CLOSE 4000 "bye" (#1 frame 0).',
    );
    const open = job(new WireBuilder().open(1), 1);
    expect(describeDifference(goal, compareGoal(goal, open.events, { now: open.now }))).toMatch(/stops short of the goal .* at arrow 6: client → server: CLOSE 1000 and a reason has not happened \(yet\)\.$/);
  });

  it('marks a close with another code as the arrow that differs (strict)', () => {
    const w = job(new WireBuilder().open(1), 1).close(1, 'client', 4000, 'bye');
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(r.difference?.expected).toBe('client → server: CLOSE 1000 and a reason');
    expect(r.difference?.got).toBe('client → server: CLOSE 4000 "bye" (#1 frame 0)');
  });

  it('marks a client that comes back after the 1000', () => {
    const w = job(new WireBuilder().open(1), 1).close(1, 'client', 1000, 'done').close(1, 'server', 1000, 'done').end(1, 'server', 1000).open(2);
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(flatArrows(goal)[r.difference!.index]!.arrow.never).toBe(true);
    expect(r.difference?.got).toBe('other → server: GET (upgrade request) (#2)');
  });

  it('counts only the connections of the run (fromConn)', () => {
    const w = new WireBuilder().open(1).text(1, 'server', 'old run');
    job(w.open(2), 2).close(2, 'client', 1000, 'x').close(2, 'server', 1000).end(2, 'server', 1000);
    expect(compareGoal(goal, w.events, { now: w.now }).difference).not.toBeNull();
    expect(compareGoal(goal, w.events, { fromConn: 2, now: w.now }).complete).toBe(true);
  });
});

describe('compareGoal: lesson 10, ping and pong', () => {
  const goal = goalOf('10-heartbeats');
  const start = () => new WireBuilder().open(1).text(1, 'client', 'I am listening').text(1, 'server', 'Hello webSocket').text(1, 'server', 'I heard you say "I am listening"');

  it('needs three rounds of ping and pong', () => {
    const w = start();
    for (let i = 0; i < 2; i++) w.control(1, 'server', 'ping').control(1, 'client', 'pong');
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(r.complete).toBe(false);
    expect(r.arrows[5]).toMatchObject({ state: 'waiting', count: 2 });
    w.control(1, 'server', 'ping').control(1, 'client', 'pong');
    expect(compareGoal(goal, w.events, { now: w.now }).complete).toBe(true);
  });

  it("takes a heartbeat that ticks in the middle of the greeting: the server's timer does not wait for the conversation", () => {
    // The order the check's run saw: the first ping reached the wiretap before the client's text.
    const w = new WireBuilder().open(1).text(1, 'server', 'Hello webSocket').control(1, 'server', 'ping').control(1, 'client', 'pong').text(1, 'client', 'I am listening').text(1, 'server', 'I heard you say "I am listening"');
    for (let i = 0; i < 3; i++) w.control(1, 'server', 'ping').control(1, 'client', 'pong');
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(r.difference).toBeNull();
    expect(r.complete).toBe(true);
  });

  it('marks the missing round of a server that ended the healthy client after one pong', () => {
    const w = start().control(1, 'server', 'ping').control(1, 'client', 'pong').end(1, 'server', 1006);
    const r = compareGoal(goal, w.events, { now: w.now });
    expect(r.difference).toMatchObject({ index: 5, expected: 'server → client: PING', got: 'nothing: every connection of the run ended before it' });
    expect(r.arrows[5]).toMatchObject({ state: 'differs' });
  });

  it('marks the first ping of a server with no heartbeat, once quiet', () => {
    const w = start();
    const r = compareGoal(goal, w.events, { now: w.now + 3000 });
    expect(r.difference?.expected).toBe('server → client: PING');
  });
});

describe('readOutcome', () => {
  it('lesson 02: a 101 with a wrong Accept, then the end, is "dropped"', () => {
    const p = predictOf('02-upgrade-handshake').predictions[0]!;
    const w = new WireBuilder().open(1).open(2, { acceptValid: false });
    const before = readOutcome(p, w.events, 3, w.now);
    expect(before?.conn).toBe(2);
    expect(before?.outcome).toBeNull();
    w.end(2, 'client', 1006);
    expect(readOutcome(p, w.events, 3, w.now)?.outcome?.choice).toBe('dropped');
  });

  it('lesson 04: no client frame is decisive only once settled', () => {
    const p = predictOf('04-sending-too-early').predictions[0]!;
    const w = new WireBuilder().open(1).text(1, 'server', 'Hello webSocket');
    expect(readOutcome(p, w.events, 0, w.now)?.outcome).toBeNull();
    expect(readOutcome(p, w.events, 0, w.now + 3000)?.outcome?.choice).toBe('none');
    w.text(1, 'client', 'I am listening');
    expect(readOutcome(p, w.events, 0, w.now)?.outcome?.choice).toBe('frame');
  });

  it('lesson 06: a garbled echo, and the exact one', () => {
    const p = predictOf('06-utf8-and-fromcharcode').predictions[0]!;
    const garbled = new WireBuilder().open(1).text(1, 'client', 'héllo 👋').text(1, 'server', 'I heard you say "hÃ©llo ð\u009f\u0091\u008b"');
    expect(readOutcome(p, garbled.events, 0, garbled.now)?.outcome?.choice).toBe('garbled');
    const right = new WireBuilder().open(1).text(1, 'client', 'héllo 👋').text(1, 'server', 'I heard you say "héllo 👋"');
    expect(readOutcome(p, right.events, 0, right.now)?.outcome?.choice).toBe('same');
  });

  it('lessons 09 and 10: the end of TCP, and who ended it', () => {
    const reset = new WireBuilder().open(1).text(1, 'server', 'working').end(1, 'wiretap', 1006);
    expect(readOutcome(predictOf('09-closing').predictions[0]!, reset.events, 0, reset.now)?.outcome?.choice).toBe('1006');
    const p10 = predictOf('10-heartbeats').predictions[0]!;
    const terminated = new WireBuilder().open(1).control(1, 'server', 'ping').end(1, 'server', 1006);
    expect(readOutcome(p10, terminated.events, 0, terminated.now)?.outcome?.choice).toBe('terminate');
    const closed = new WireBuilder().open(1).control(1, 'server', 'ping').close(1, 'server', 1001);
    expect(readOutcome(p10, closed.events, 0, closed.now)?.outcome?.choice).toBe('close');
    const open = new WireBuilder().open(1).control(1, 'server', 'ping');
    expect(readOutcome(p10, open.events, 0, open.now)?.outcome).toBeNull();
    expect(readOutcome(p10, open.events, 0, open.now + 5000)?.outcome?.choice).toBe('nothing');
  });

  it('reads nothing when no connection did anything since the answer', () => {
    const w = new WireBuilder().open(1);
    expect(readOutcome(predictOf('09-closing').predictions[0]!, w.events, w.now + 1, w.now + 1)).toBeNull();
  });
});

describe("a check's goal comparison, as the Check result carries it to the pane", () => {
  const goal = goalOf('09-closing');
  // Lesson 09's first run with a client that never closes: the job, then silence.
  const neverCloses = () => {
    const w = new WireBuilder().open(1).text(1, 'server', 'Hello webSocket');
    for (let i = 1; i < 4; i++) w.text(1, 'server', `working: step ${i} of 4`);
    return w.text(1, 'server', 'done: the answer is 42');
  };
  const report = (goal: unknown): CheckReport => ({
    reason: 'failed',
    unhandled: [],
    modules: [{ moduleId: 'lessons/09-closing/check.test.ts', errors: [], checks: [{ name: 'the client closed', state: 'fail', message: 'no close frame', hint: 1 }], goal: goal as never }],
  });
  const base = { lesson: '09-closing', at: '2026-01-01T00:00:00.000Z', ms: 1 };

  it('marks the CLOSE arrow of a client that never closes, once the check declares its run over', () => {
    const c = checkGoalOf(goal, compareGoal(goal, neverCloses().events, { now: Number.POSITIVE_INFINITY }), "the check's first run of your client, #1");
    expect(c.arrows.map((a) => a.state)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'differs', 'unchecked', 'unchecked', 'unchecked']);
    expect(c.difference).toEqual({ index: 5, expected: 'client → server: CLOSE 1000 and a reason', got: 'nothing: the wire went quiet before it' });
    expect(c.sentence).toMatch(/^The conversation leaves the goal \("The job, then a closing handshake, and no coming back"\) at arrow 6: the goal has client → server: CLOSE 1000 and a reason/);
    // Nothing of the wire's own arrows crosses over (the page cannot click into the check's capture).
    expect(JSON.stringify(c)).not.toMatch(/"wire"|"t":/);
    expect(readCheckGoal(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  it('summarize() passes the comparison on, read and cut to size, not trusted', () => {
    const c = checkGoalOf(goal, compareGoal(goal, neverCloses().events, { now: Number.POSITIVE_INFINITY }), 'run');
    expect(summarize(report(c), base).goal).toEqual(c);
    expect(summarize(report(undefined), base).goal).toBeUndefined();
    // A report written by a process that ran the learner's code: nothing in it is taken on trust.
    const huge = { ...c, run: 'x'.repeat(1e6), arrows: Array.from({ length: 100_000 }, () => ({ state: 'ok', count: 1e12 })), difference: { index: 3, expected: 'y'.repeat(1e5), got: 'z' }, sentence: 's'.repeat(1e5) };
    const cut = summarize(report(huge), base).goal!;
    expect(cut.arrows).toHaveLength(CHECK_GOAL_MAX_ARROWS);
    expect(cut.arrows[0]!.count).toBe(1e6);
    expect(cut.run.length).toBe(CHECK_GOAL_MAX_TEXT);
    expect(cut.difference!.expected.length).toBe(CHECK_GOAL_MAX_TEXT);
    expect(cut.sentence!.length).toBe(CHECK_GOAL_MAX_TEXT);
    for (const bad of [
      { ...c, arrows: [{ state: 'fine' }] },
      { ...c, difference: { index: 99, expected: 'a', got: 'b' } },
      { ...c, difference: 'arrow 6' },
      { ...c, complete: 'yes' },
      'goal',
      null,
    ]) {
      expect(summarize(report(bad), base).goal, JSON.stringify(bad).slice(0, 80)).toBeUndefined();
    }
  });
});
