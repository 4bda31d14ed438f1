/**
 * What the wire should say, against what it said: the lesson pane's goal diagrams (goal.json,
 * lessons 08-10) and predictions (predict.json, "predict, then run"), and any check that wants
 * to name the first place where the learner's conversation leaves the expected one.
 *
 * Pure functions over the wiretap's events (server/capture/events.ts), no I/O and no imports
 * of Node or the DOM: the dashboard runs this same code over its capture, and a check over its
 * own wiretap's events.
 *
 * The events become **arrows** (who sent what to whom, as the sequence diagram draws them):
 * the client's upgrade request, the server's answer to it, each message, ping, pong and close
 * frame, and the end of the TCP connection. A goal is a list of arrows, with wildcards where the
 * content varies (random names), and the comparison walks the learner's arrows and stops at the
 * first one that differs.
 */
import type { Direction, WireEvent } from '../../server/capture/events.ts';

// ---- arrows ---------------------------------------------------------------------------------

export type ArrowKind = 'request' | 'response' | 'text' | 'binary' | 'ping' | 'pong' | 'close' | 'end';
export const ARROW_KINDS: readonly ArrowKind[] = ['request', 'response', 'text', 'binary', 'ping', 'pong', 'close', 'end'];

/** One arrow of the learner's wire: an event, in the words of the sequence diagram. */
export interface WireArrow {
  kind: ArrowKind;
  conn: number;
  /** Who sent it (for `end`: who ended TCP first; the wiretap counts as neither peer). */
  dir: Direction | 'wiretap';
  t: number;
  /** Text messages: the text (a preview when long); close frames: the reason. */
  text?: string;
  /** Close frames: the close code; `end`: the code the client application reports (1006 when TCP ended without a close frame). */
  code?: number | null;
  /** `response`: the HTTP status. */
  status?: number;
  /** `response`: Sec-WebSocket-Accept matched the key. */
  acceptValid?: boolean;
  /** Message payload length (after inflation). */
  length?: number;
  /** Frame index in its direction (the inspector's "frame N"), when the arrow is a frame. */
  frame?: number;
  /** The wiretap sent it (Break it), not a peer. */
  injected?: boolean;
}

/** The events a goal or a prediction reads, as arrows, in arrival order. */
export function arrowsOf(events: readonly WireEvent[]): WireArrow[] {
  const out: WireArrow[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'handshake':
        if (e.request) out.push({ kind: 'request', conn: e.conn, dir: 'client', t: e.request.t });
        if (e.response) out.push({ kind: 'response', conn: e.conn, dir: 'server', t: e.response.t, status: e.response.status, acceptValid: e.acceptValid });
        break;
      case 'message':
        out.push({
          kind: e.opcode === 1 ? 'text' : 'binary',
          conn: e.conn,
          dir: e.dir,
          t: e.t,
          ...(e.opcode === 1 ? { text: e.text ?? '' } : {}),
          length: e.length,
          frame: e.firstFrame,
          ...(e.injected ? { injected: true } : {}),
        });
        break;
      case 'ping':
      case 'pong':
        out.push({ kind: e.type, conn: e.conn, dir: e.dir, t: e.t, frame: e.frame, ...(e.injected ? { injected: true } : {}) });
        break;
      case 'close':
        out.push({ kind: 'close', conn: e.conn, dir: e.dir, t: e.t, code: e.code, text: e.reason, frame: e.frame, ...(e.injected ? { injected: true } : {}) });
        break;
      case 'end':
        out.push({ kind: 'end', conn: e.conn, dir: e.by, t: e.t, code: e.code });
        break;
      default:
        break;
    }
  }
  return out;
}

/** What an arrow must be. Absent fields match anything. */
export interface ArrowPattern {
  kind: ArrowKind;
  /** Text (or close reason) with `*` for "any characters": `hello from *`. */
  text?: string;
  /** The text is the same as that of the goal's arrow with this id (a relayed message). */
  same?: string;
  code?: number;
  status?: number;
  acceptValid?: boolean;
  /** The payload is at least this many bytes. */
  minLength?: number;
}

/** `*` matches any run of characters; everything else is literal. */
export function globMatch(glob: string, text: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === text;
  if (!text.startsWith(parts[0]!) || !text.endsWith(parts[parts.length - 1]!)) return false;
  let at = parts[0]!.length;
  const end = text.length - parts[parts.length - 1]!.length;
  if (end < at) return false;
  for (const mid of parts.slice(1, -1)) {
    const i = text.indexOf(mid, at);
    if (i < 0 || i + mid.length > end) return false;
    at = i + mid.length;
  }
  return true;
}

function matchesPattern(p: ArrowPattern, a: WireArrow, sameText?: string): boolean {
  if (p.kind !== a.kind) return false;
  if (p.text !== undefined && !globMatch(p.text, a.text ?? '')) return false;
  if (p.same !== undefined && (sameText === undefined || a.text !== sameText)) return false;
  if (p.code !== undefined && a.code !== p.code) return false;
  if (p.status !== undefined && a.status !== p.status) return false;
  if (p.acceptValid !== undefined && a.acceptValid !== p.acceptValid) return false;
  if (p.minLength !== undefined && (a.length ?? 0) < p.minLength) return false;
  return true;
}

/** An arrow as a person reads it: `server → A: TEXT "hello from peer-x1"`. */
export function describeArrow(a: { kind: ArrowKind; text?: string; code?: number | null; status?: number; acceptValid?: boolean; length?: number }): string {
  const quote = (s: string) => `"${s.length > 40 ? `${s.slice(0, 39)}…` : s}"`;
  switch (a.kind) {
    case 'request':
      return 'GET (upgrade request)';
    case 'response':
      return a.status === undefined ? 'HTTP answer' : `${a.status}${a.status === 101 ? ' Switching Protocols' : ''}${a.acceptValid === false && a.status === 101 ? ' (wrong Accept)' : ''}`;
    case 'text':
      return a.text === undefined ? 'TEXT' : `TEXT ${quote(a.text)}`;
    case 'binary':
      return a.length === undefined ? 'BINARY' : `BINARY (${a.length} bytes)`;
    case 'ping':
      return 'PING';
    case 'pong':
      return 'PONG';
    case 'close':
      return `CLOSE${a.code != null ? ` ${a.code}` : ''}${a.text ? ` ${quote(a.text)}` : ''}`;
    case 'end':
      return a.code === 1006 ? 'TCP ends, no closing handshake (1006)' : 'TCP ends';
  }
}

// ---- goals ----------------------------------------------------------------------------------

/** One expected arrow: from a peer (a name in `peers`) to the server, or back. */
export interface GoalArrow extends ArrowPattern {
  /** Names it for `same`. */
  id?: string;
  /** A peer's name, `server`, or `other` (a connection beyond the goal's peers). */
  from: string;
  to: string;
  /** What the diagram writes on the arrow; the pattern's own words when absent. */
  label?: string;
  /** Must NOT happen here (between the arrows before and after it): drawn crossed out. */
  never?: boolean;
}

export type GoalStep = GoalArrow | { anyOrder: GoalArrow[] } | { repeat: GoalArrow[]; min: number };

export interface Goal {
  version: 1;
  /** The step (1-based) whose conversation it is. */
  step: number;
  title: string;
  /** The peers, in the order their connections open: the first connection is peers[0]. */
  peers: string[];
  /**
   * `strict`: every arrow of a kind the goal names, on the peers' connections, must be the next
   * one expected. `subsequence`: other arrows may come between (several peers talk at once).
   */
  match: 'strict' | 'subsequence';
  sequence: GoalStep[];
  /** One or two sentences under the diagram. */
  note?: string;
  /** Quiet this long (ms) after the last arrow, an arrow still missing differs (default 2000). */
  settleMs?: number;
}

/** A goal arrow placed on the diagram: its index in `flatArrows`. */
export interface FlatArrow {
  arrow: GoalArrow;
  /** `repeat` blocks: how many times at least; `anyOrder` groups: their group number. */
  repeatMin?: number;
  group?: number;
}

/** The goal's arrows in drawing order (a repeat block drawn once, marked "×N or more"). */
export function flatArrows(goal: Goal): FlatArrow[] {
  const out: FlatArrow[] = [];
  goal.sequence.forEach((s, i) => {
    if ('anyOrder' in s) for (const a of s.anyOrder) out.push({ arrow: a, group: i });
    else if ('repeat' in s) for (const a of s.repeat) out.push({ arrow: a, repeatMin: s.min });
    else out.push({ arrow: s });
  });
  return out;
}

export type ArrowState = 'ok' | 'differs' | 'waiting' | 'unchecked';

export interface GoalResult {
  /** Which connection each peer is (peers with no connection yet are missing). */
  peers: Record<string, number>;
  /** A state per `flatArrows(goal)` entry, with the wire arrow it matched. */
  arrows: Array<{ state: ArrowState; wire?: WireArrow; count?: number }>;
  /** The first arrow that differs, or null when the wire follows the goal so far. */
  difference: { index: number; expected: string; got: string; wire?: WireArrow } | null;
  /** Every arrow matched. */
  complete: boolean;
  /** Nothing of the goal's peers is on the wire yet. */
  empty: boolean;
}

export interface CompareOptions {
  /** Only connections with this id or a higher one count (the run being compared). */
  fromConn?: number;
  /**
   * The wiretap's time now: once `settleMs` passed since the run's last arrow, an arrow still
   * missing differs (the peers are quiet), though their connections are open.
   */
  now?: number;
}

const dirOf = (a: GoalArrow): Direction => (a.from === 'server' ? 'server' : 'client');
const peerOf = (a: GoalArrow): string => (a.from === 'server' ? a.to : a.from);

function fullLabel(a: GoalArrow): string {
  return `${a.from} → ${a.to}: ${a.label ?? describeArrow(a)}`;
}

function wireLabel(w: WireArrow, names: Map<number, string>): string {
  const peer = names.get(w.conn) ?? 'other';
  const who = w.dir === 'server' ? `server → ${peer}` : w.dir === 'wiretap' ? `wiretap (${peer})` : `${peer} → server`;
  const where = w.frame !== undefined ? ` (#${w.conn} frame ${w.frame})` : ` (#${w.conn})`;
  return `${who}: ${describeArrow(w)}${where}`;
}

/**
 * Compares the learner's wire with a goal. The peers are bound to the upgraded connections in
 * the order they opened (from `fromConn`); later connections are `other`. The walk stops at the
 * first arrow that differs: in `strict` mode the next arrow of a kind the goal names that is not
 * the expected one, in either mode an expected arrow absent once every peer's connection ended,
 * or a `never` arrow that happened. An expected arrow not there yet while connections are still
 * open is `waiting`, not a difference.
 */
export function compareGoal(goal: Goal, events: readonly WireEvent[], opts: CompareOptions = {}): GoalResult {
  const from = opts.fromConn ?? 0;
  const all = arrowsOf(events.filter((e) => e.conn >= from));
  const upgraded: number[] = [];
  for (const e of events) if (e.conn >= from && e.type === 'handshake' && e.outcome === 'upgraded' && !upgraded.includes(e.conn)) upgraded.push(e.conn);
  const peers: Record<string, number> = {};
  const names = new Map<number, string>();
  goal.peers.forEach((p, i) => {
    const c = upgraded[i];
    if (c !== undefined) {
      peers[p] = c;
      names.set(c, p);
    }
  });
  // A refused or not-yet-answered first connection still counts as the first peer's.
  if (goal.peers.length > 0 && peers[goal.peers[0]!] === undefined) {
    const first = all.find((a) => a.kind === 'request');
    if (first && !names.has(first.conn)) {
      peers[goal.peers[0]!] = first.conn;
      names.set(first.conn, goal.peers[0]!);
    }
  }
  const peerName = (conn: number) => names.get(conn) ?? 'other';
  const ended = new Set(all.filter((a) => a.kind === 'end').map((a) => a.conn));
  const bound = Object.values(peers);
  const last = all.length > 0 ? all[all.length - 1]!.t : null;
  const quiet = opts.now !== undefined && last !== null && opts.now - last >= (goal.settleMs ?? 2000);
  const settled = (bound.length === goal.peers.length && bound.every((c) => ended.has(c))) || quiet;

  const flat = flatArrows(goal);
  const kinds = new Set(flat.map((f) => f.arrow.kind));
  // The arrows the comparison reads: kinds the goal names, on any connection of the run.
  const wire = all.filter((a) => kinds.has(a.kind));
  const states: GoalResult['arrows'] = flat.map(() => ({ state: 'unchecked' as ArrowState }));
  const texts = new Map<string, string>();
  const result: GoalResult = { peers, arrows: states, difference: null, complete: false, empty: wire.length === 0 };

  const fits = (g: GoalArrow, w: WireArrow): boolean => {
    if (w.dir !== dirOf(g) || peerName(w.conn) !== peerOf(g)) return false;
    return matchesPattern(g, w, g.same !== undefined ? texts.get(g.same) : undefined);
  };
  const remember = (g: GoalArrow, w: WireArrow) => {
    if (g.id && w.text !== undefined) texts.set(g.id, w.text);
  };
  const differ = (index: number, got: string, w?: WireArrow) => {
    // The first difference is the one to show; later arrows of the same group are not checked.
    if (result.difference) return;
    states[index] = { state: 'differs', ...(w ? { wire: w } : {}) };
    result.difference = { index, expected: fullLabel(flat[index]!.arrow), got, ...(w ? { wire: w } : {}) };
  };
  const missing = (index: number, count?: number) => {
    if (result.difference) return;
    if (settled) differ(index, quiet ? 'nothing: the wire went quiet before it' : 'nothing: every connection of the run ended before it');
    else states[index] = { state: 'waiting', ...(count ? { count } : {}) };
  };

  let cursor = 0;
  let flatIndex = 0;
  // `never` arrows waiting for the next positive match: none of them may happen before it.
  let nevers: Array<{ index: number; arrow: GoalArrow; from: number }> = [];
  const checkNevers = (upTo: number): boolean => {
    for (const n of nevers) {
      for (let i = n.from; i < upTo; i++) {
        if (fits(n.arrow, wire[i]!)) {
          differ(n.index, wireLabel(wire[i]!, names), wire[i]!);
          return false;
        }
      }
      states[n.index] = { state: upTo < wire.length || settled ? 'ok' : 'waiting' };
    }
    nevers = [];
    return true;
  };
  /** Where `g` is next on the wire from `cursor`, or -1; strict mode looks at the next arrow only. */
  const find = (g: GoalArrow, start: number, taken: Set<number> = new Set()): number => {
    for (let i = start; i < wire.length; i++) {
      if (taken.has(i)) continue;
      if (fits(g, wire[i]!)) return i;
      if (goal.match === 'strict') return -1;
    }
    return -1;
  };
  const strictMismatch = (index: number, at: number): boolean => {
    if (goal.match !== 'strict' || at >= wire.length) return false;
    differ(index, wireLabel(wire[at]!, names), wire[at]!);
    return true;
  };

  for (const step of goal.sequence) {
    if ('anyOrder' in step) {
      const positives = step.anyOrder.filter((a) => !a.never);
      const taken = new Set<number>();
      const base = flatIndex;
      let ok = true;
      for (const [k, a] of step.anyOrder.entries()) {
        if (a.never) continue;
        // Strict: the group's arrows are the next ones, in any order.
        let at = -1;
        for (let i = cursor; i < wire.length && (goal.match !== 'strict' || i < cursor + positives.length); i++) {
          if (!taken.has(i) && fits(a, wire[i]!)) {
            at = i;
            break;
          }
        }
        if (at < 0) {
          if (goal.match === 'strict' && cursor + taken.size < wire.length) {
            // The next unmatched arrow of the group's span is what came instead.
            let other = cursor;
            while (taken.has(other)) other++;
            if (other < wire.length) {
              differ(base + k, wireLabel(wire[other]!, names), wire[other]!);
              return result;
            }
          }
          missing(base + k);
          ok = false;
          continue;
        }
        taken.add(at);
        remember(a, wire[at]!);
        states[base + k] = { state: 'ok', wire: wire[at]! };
      }
      if (result.difference) return result;
      const end = taken.size > 0 ? Math.max(...taken) : cursor;
      if (!checkNevers(Math.min(...taken, end))) return result;
      // A group's `never` holds from the group's start (it may come before the others) to the next step's match.
      for (const [k, a] of step.anyOrder.entries()) if (a.never) nevers.push({ index: base + k, arrow: a, from: cursor });
      flatIndex += step.anyOrder.length;
      if (!ok) {
        // A group's `never` that already happened says more than an arrow still to come.
        const waitingOnly = result.difference === null;
        if (waitingOnly) checkNevers(wire.length);
        return result;
      }
      cursor = end + 1;
      continue;
    }
    if ('repeat' in step) {
      const base = flatIndex;
      flatIndex += step.repeat.length;
      let count = 0;
      for (;;) {
        let at = cursor;
        const positions: number[] = [];
        for (const a of step.repeat) {
          const i = find(a, at);
          if (i < 0) break;
          positions.push(i);
          at = i + 1;
        }
        if (positions.length < step.repeat.length) {
          if (count >= step.min) break;
          const k = positions.length;
          if (strictMismatch(base + k, positions.length > 0 ? positions[k - 1]! + 1 : cursor)) return result;
          for (let j = 0; j < k; j++) states[base + j] = { state: 'ok', wire: wire[positions[j]!]!, count: count + 1 };
          missing(base + k, count);
          return result;
        }
        if (!checkNevers(positions[0]!)) return result;
        count++;
        step.repeat.forEach((a, j) => {
          remember(a, wire[positions[j]!]!);
          states[base + j] = { state: count >= step.min ? 'ok' : 'waiting', wire: wire[positions[j]!]!, count };
        });
        cursor = at;
      }
      continue;
    }
    const index = flatIndex++;
    if (step.never) {
      nevers.push({ index, arrow: step, from: cursor });
      continue;
    }
    const at = find(step, cursor);
    if (at < 0) {
      if (!checkNevers(wire.length)) return result;
      if (strictMismatch(index, cursor)) return result;
      missing(index);
      return result;
    }
    if (!checkNevers(at)) return result;
    remember(step, wire[at]!);
    states[index] = { state: 'ok', wire: wire[at]! };
    cursor = at + 1;
  }
  if (!checkNevers(wire.length)) return result;
  // Strict: the goal ends here; anything more of the kinds it names differs from it.
  if (goal.match === 'strict' && cursor < wire.length) {
    const extra = wire[cursor]!;
    const index = flat.length - 1;
    result.difference = { index, expected: `nothing after ${fullLabel(flat[index]!.arrow)}`, got: wireLabel(extra, names), wire: extra };
    states[index] = { state: 'differs', wire: states[index]?.wire ?? extra };
    return result;
  }
  // `never` arrows cannot be "seen": the goal is complete when every other arrow was.
  result.complete = flat.every((f, i) => f.arrow.never || states[i]!.state === 'ok');
  return result;
}

// ---- predictions ----------------------------------------------------------------------------

/** A rule over one connection's arrows: how the pane reads the outcome off the wire. */
export type OutcomeRule =
  | { has: ArrowPattern & { dir?: Direction | 'wiretap' } }
  | { none: ArrowPattern & { dir?: Direction | 'wiretap' } }
  | { all: OutcomeRule[] }
  | { any: OutcomeRule[] }
  /** The connection ended, or `settleMs` passed since the answer with the connection still open. */
  | { settled: true };

export interface Prediction {
  /** Stable id: progress.json keeps the answer under it. */
  id: string;
  /** The step (1-based) whose run or fault it is about. */
  step: number;
  /** What to do after answering ("Run the client", "Blackhole its connection"). */
  then: string;
  question: string;
  choices: Array<{ id: string; text: string }>;
  /** The choice that is right. */
  answer: string;
  /** Read in order: the first rule that holds on the subject connection says what happened. */
  outcomes: Array<{ choice: string; when: OutcomeRule; says: string }>;
  /** How long a connection with nothing decisive counts as "still going" (default 3000 ms). */
  settleMs?: number;
  /** After the outcome: why, in two or three sentences. */
  explain: string;
}

export interface PredictFile {
  version: 1;
  predictions: Prediction[];
}

function ruleHolds(rule: OutcomeRule, arrows: readonly WireArrow[], settled: boolean): boolean {
  if ('all' in rule) return rule.all.every((r) => ruleHolds(r, arrows, settled));
  if ('any' in rule) return rule.any.some((r) => ruleHolds(r, arrows, settled));
  if ('settled' in rule) return settled;
  const p = 'has' in rule ? rule.has : rule.none;
  const found = arrows.some((a) => (p.dir === undefined || a.dir === p.dir) && matchesPattern(p, a));
  return 'has' in rule ? found : !found;
}

export interface OutcomeReading {
  /** The connection the outcome was read on. */
  conn: number;
  /** The outcome that holds, or null while nothing decisive happened yet. */
  outcome: Prediction['outcomes'][number] | null;
  settled: boolean;
}

/**
 * What happened, for a prediction: read on the latest connection with an arrow at or after
 * `since` (wiretap time of the answer); null when no connection did anything since. `now` is
 * the wiretap's time now (to tell "nothing yet" from "nothing, and it is over").
 */
export function readOutcome(p: Prediction, events: readonly WireEvent[], since: number, now: number): OutcomeReading | null {
  const arrows = arrowsOf(events);
  let conn: number | null = null;
  for (const a of arrows) if (a.t >= since && (conn === null || a.conn > conn)) conn = a.conn;
  if (conn === null) return null;
  const mine = arrows.filter((a) => a.conn === conn);
  const settled = mine.some((a) => a.kind === 'end') || now - since >= (p.settleMs ?? 3000);
  const outcome = p.outcomes.find((o) => ruleHolds(o.when, mine, settled)) ?? null;
  return { conn, outcome, settled };
}

// ---- validation: the files are read by the server and shown by the page ------------------------

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = 2000): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function patternProblem(p: unknown, where: string): string | null {
  if (!isObj(p)) return `${where} is not an object`;
  if (!ARROW_KINDS.includes(p.kind as ArrowKind)) return `${where}.kind must be one of ${ARROW_KINDS.join(', ')}`;
  for (const k of ['code', 'status', 'minLength'] as const) if (p[k] !== undefined && !Number.isInteger(p[k])) return `${where}.${k} must be an integer`;
  for (const k of ['text', 'same'] as const) if (p[k] !== undefined && typeof p[k] !== 'string') return `${where}.${k} must be a string`;
  return null;
}

/** Why a goal.json is not a goal (null when it is one). */
export function goalProblem(raw: unknown): string | null {
  if (!isObj(raw) || raw.version !== 1) return 'goal.json must be { "version": 1, ... }';
  if (!Number.isInteger(raw.step) || !str(raw.title) || !Array.isArray(raw.peers) || !raw.peers.every((p) => str(p, 20))) return 'goal.json needs step, title and peers (names)';
  if (raw.match !== 'strict' && raw.match !== 'subsequence') return 'goal.json: match is "strict" or "subsequence"';
  if (!Array.isArray(raw.sequence) || raw.sequence.length === 0) return 'goal.json: sequence is a list of arrows';
  const names = new Set<string>([...(raw.peers as string[]), 'server', 'other']);
  const ids = new Set<string>();
  const arrow = (a: unknown, where: string): string | null => {
    const p = patternProblem(a, where);
    if (p) return p;
    const g = a as Record<string, unknown>;
    if (!names.has(g.from as string) || !names.has(g.to as string) || (g.from === 'server') === (g.to === 'server')) return `${where}: from and to are a peer and the server`;
    if (g.same !== undefined && !ids.has(g.same as string)) return `${where}.same names no earlier arrow`;
    if (typeof g.id === 'string') ids.add(g.id);
    return null;
  };
  for (const [i, s] of (raw.sequence as unknown[]).entries()) {
    const where = `sequence[${i}]`;
    if (isObj(s) && Array.isArray(s.anyOrder)) {
      for (const [j, a] of s.anyOrder.entries()) {
        const p = arrow(a, `${where}.anyOrder[${j}]`);
        if (p) return p;
      }
    } else if (isObj(s) && Array.isArray(s.repeat)) {
      if (!Number.isInteger(s.min) || (s.min as number) < 1) return `${where}.min must be 1 or more`;
      for (const [j, a] of s.repeat.entries()) {
        const p = arrow(a, `${where}.repeat[${j}]`);
        if (p) return p;
      }
    } else {
      const p = arrow(s, where);
      if (p) return p;
    }
  }
  return null;
}

function ruleProblem(r: unknown, where: string, depth = 0): string | null {
  if (depth > 8) return `${where}: rules nest too deep`;
  if (!isObj(r)) return `${where} is not a rule`;
  if (Array.isArray(r.all) || Array.isArray(r.any)) {
    for (const [i, x] of ((r.all ?? r.any) as unknown[]).entries()) {
      const p = ruleProblem(x, `${where}[${i}]`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  if (r.settled === true) return null;
  if (r.has !== undefined) return patternProblem(r.has, `${where}.has`);
  if (r.none !== undefined) return patternProblem(r.none, `${where}.none`);
  return `${where}: a rule is has, none, all, any or settled`;
}

/** Why a predict.json is not one (null when it is). */
export function predictProblem(raw: unknown): string | null {
  if (!isObj(raw) || raw.version !== 1 || !Array.isArray(raw.predictions)) return 'predict.json must be { "version": 1, "predictions": [...] }';
  const ids = new Set<string>();
  for (const [i, p] of (raw.predictions as unknown[]).entries()) {
    const where = `predictions[${i}]`;
    if (!isObj(p) || !str(p.id, 40) || !Number.isInteger(p.step) || !str(p.then) || !str(p.question) || !str(p.explain)) return `${where} needs id, step, then, question and explain`;
    if (ids.has(p.id as string)) return `${where}: id ${p.id} is used twice`;
    ids.add(p.id as string);
    if (!Array.isArray(p.choices) || p.choices.length < 2 || !p.choices.every((c) => isObj(c) && str(c.id, 20) && str(c.text))) return `${where}: at least two choices, each { id, text }`;
    const choices = new Set((p.choices as Array<{ id: string }>).map((c) => c.id));
    if (!choices.has(p.answer as string)) return `${where}: answer is not one of the choices`;
    if (!Array.isArray(p.outcomes) || p.outcomes.length === 0) return `${where}: outcomes are missing`;
    for (const [j, o] of (p.outcomes as unknown[]).entries()) {
      if (!isObj(o) || !choices.has(o.choice as string) || !str(o.says)) return `${where}.outcomes[${j}] needs a choice (one of the choices) and says`;
      const r = ruleProblem(o.when, `${where}.outcomes[${j}].when`);
      if (r) return r;
    }
  }
  return null;
}

/**
 * A check's sentence for a goal that the wire does not follow (null when it does): the arrow,
 * what the goal has there and what the wire has, as the pane marks it. For a check's failure
 * message: `expect(describeDifference(goal, compareGoal(goal, events)), ...).toBeNull()`.
 */
export function describeDifference(goal: Goal, r: GoalResult): string | null {
  const d = r.difference;
  if (d) return `The conversation leaves the goal ("${goal.title}") at arrow ${d.index + 1}: the goal has ${d.expected}; the wire has ${d.got}.`;
  if (r.complete) return null;
  const flat = flatArrows(goal);
  const next = r.arrows.findIndex((a, i) => a.state !== 'ok' && !flat[i]!.arrow.never);
  if (next < 0) return null;
  const f = flat[next]!.arrow;
  return `The conversation stops short of the goal ("${goal.title}") at arrow ${next + 1}: ${f.from} → ${f.to}: ${f.label ?? describeArrow(f)} has not happened (yet).`;
}

// ---- a check's comparison, for the dashboard ------------------------------------------------

/** Bounds of a CheckGoal: it crosses from the check's process to the page, so it is cut to size. */
export const CHECK_GOAL_MAX_ARROWS = 64;
export const CHECK_GOAL_MAX_TEXT = 400;

/**
 * A goal comparison made by a check on its own wiretap's events, as the dashboard gets it with
 * the Check result: the state of each goal arrow (by its index in `flatArrows`), the first
 * difference in words, and the check's sentence for it. No wire arrows: the page cannot click
 * into the check's capture, which is not its own.
 */
export interface CheckGoal {
  /** Which run of the check was compared ("the first run of client.js, #1"). */
  run: string;
  peers: Record<string, number>;
  arrows: Array<{ state: ArrowState; count?: number }>;
  difference: { index: number; expected: string; got: string } | null;
  complete: boolean;
  /** describeDifference's sentence (null when the wire followed the goal). */
  sentence: string | null;
}

const cut = (s: string): string => (s.length > CHECK_GOAL_MAX_TEXT ? `${s.slice(0, CHECK_GOAL_MAX_TEXT - 1)}…` : s);

/** A GoalResult as a check reports it (see CheckGoal). */
export function checkGoalOf(goal: Goal, r: GoalResult, run: string): CheckGoal {
  return {
    run: cut(run),
    peers: { ...r.peers },
    arrows: r.arrows.slice(0, CHECK_GOAL_MAX_ARROWS).map((a) => ({ state: a.state, ...(a.count !== undefined ? { count: a.count } : {}) })),
    difference: r.difference ? { index: r.difference.index, expected: cut(r.difference.expected), got: cut(r.difference.got) } : null,
    complete: r.complete,
    sentence: (() => {
      const s = describeDifference(goal, r);
      return s === null ? null : cut(s);
    })(),
  };
}

const STATES: readonly ArrowState[] = ['ok', 'differs', 'waiting', 'unchecked'];

/**
 * A CheckGoal read from a report (null when it is not one), cut to the bounds: the report is
 * written by a process that ran the learner's code, so nothing in it is taken on trust.
 */
export function readCheckGoal(raw: unknown): CheckGoal | null {
  if (!isObj(raw) || !Array.isArray(raw.arrows) || typeof raw.run !== 'string' || typeof raw.complete !== 'boolean') return null;
  const arrows: CheckGoal['arrows'] = [];
  for (const a of raw.arrows.slice(0, CHECK_GOAL_MAX_ARROWS)) {
    if (!isObj(a) || !STATES.includes(a.state as ArrowState)) return null;
    arrows.push({ state: a.state as ArrowState, ...(Number.isInteger(a.count) && (a.count as number) >= 0 ? { count: Math.min(a.count as number, 1e6) } : {}) });
  }
  const peers: Record<string, number> = {};
  if (isObj(raw.peers)) {
    for (const [k, v] of Object.entries(raw.peers).slice(0, 8)) if (k.length <= 20 && Number.isInteger(v)) peers[k] = v as number;
  }
  let difference: CheckGoal['difference'] = null;
  const d = raw.difference;
  if (isObj(d)) {
    if (!Number.isInteger(d.index) || (d.index as number) < 0 || (d.index as number) >= arrows.length || typeof d.expected !== 'string' || typeof d.got !== 'string') return null;
    difference = { index: d.index as number, expected: cut(d.expected), got: cut(d.got) };
  } else if (d !== null && d !== undefined) return null;
  return {
    run: cut(raw.run),
    peers,
    arrows,
    difference,
    complete: raw.complete,
    sentence: typeof raw.sentence === 'string' ? cut(raw.sentence) : null,
  };
}
