import net from 'node:net';
import type { FrameEvent, HandshakeEvent, HttpResponseHead, MessageEvent, PerMessageDeflateParams, WireEvent } from './events.ts';
import { quoteText, payloadPreview } from './describe.ts';
import { explainCloseCode } from '../protocol/close-codes.ts';
import { ConnectionDecoder } from '../protocol/connection-decoder.ts';
import { opcodeName } from '../protocol/opcodes.ts';
import { buildFrame, toHex } from '../tap/crafter.ts';

/**
 * Replay a recording's client side against the server that runs now, and say where the
 * server's answers differ from the recorded ones.
 *
 * Two halves, like the decoders: `planReplay` is pure (events in, a plan out: per connection
 * the request head to send, then one step per client message or control frame with the bytes
 * to write and the answers the server gave at that point); `runReplay` opens the connections,
 * writes each step, waits (bounded) for that step's answers, and decodes what comes back with
 * the same ConnectionDecoder the wiretap uses, so both sides are compared in the same terms.
 *
 * Choices a reader of the report should know:
 * - Frames go out byte for byte as recorded: the recorded header (with its masking key) and the
 *   payload masked again with that same key. RFC 6455 §5.3 wants a fresh, unpredictable key
 *   per frame from a real client; a replay reuses the recorded ones on purpose, so that a
 *   recorded protocol violation (an unmasked frame, a reserved opcode, a length in a too-wide
 *   field) is replayed exactly.
 * - A step ends at each client frame with FIN set; its expected answers are the server's
 *   messages, pings, pongs and close frames recorded after it and before the next client frame.
 *   A step that expects no answer is followed at once by the next (the recorded client did not
 *   wait either); a step that expects answers waits until as many have arrived, or
 *   `replyTimeoutMs`, then `settleMs` more for answers the recording does not have.
 * - Connections are replayed one after another, in the order they opened: a replay checks how
 *   the server answers each client, not how clients interleave.
 * - When the server now negotiates permessage-deflate differently than in the recording, the
 *   recorded compressed bytes would not inflate on the server: such messages are sent again
 *   uncompressed (one frame, same masking key) when the recording holds their whole text.
 */

/** One thing the server said: an HTTP status line, a message, a control frame. */
export type Answer = { summary: string } & (
  | { kind: 'http'; status: number; reason: string }
  | { kind: 'text'; text: string; length: number; truncated?: boolean }
  | { kind: 'binary'; base64: string; length: number; truncated?: boolean }
  | { kind: 'ping' | 'pong'; base64: string }
  | { kind: 'close'; code: number; reason: string }
);

/** What a step sends, for the report. */
export interface Sent {
  /** One line: `TEXT 'hello' [5 bytes]`, `CLOSE 1000 normal closure`, `GET / HTTP/1.1 …`. */
  summary: string;
  frames: number;
  bytes: number;
}

export interface PlannedStep {
  sent: Sent;
  /** The recorded bytes of the step's frames (recorded masking keys), or the request head. */
  bytes: Buffer | null;
  /** True when a frame of the step has RSV1 set (compressed with permessage-deflate). */
  compressed: boolean;
  /** The step's message as one uncompressed frame, for a server that negotiates compression differently; null when there is nothing to rebuild or it cannot be. */
  uncompressed: Buffer | null;
  expected: Answer[];
  /** Why the step cannot be sent at all (its payload was recorded only in part). */
  unsendable?: string;
}

export interface ConnectionPlan {
  /** The connection id in the recording. */
  conn: number;
  /** `GET /chat HTTP/1.1`, or what the recording has instead. */
  requestLine: string;
  /** permessage-deflate as negotiated in the recording. */
  deflate: PerMessageDeflateParams | null;
  /** Step 0: the request head, and what the server answered before the client's first frame. */
  handshake: PlannedStep;
  steps: PlannedStep[];
  /** Why this connection cannot be replayed (no request recorded, not HTTP). */
  skip?: string;
}

export type StepStatus = 'same' | 'different' | 'not-sent';

export interface StepReport {
  /** 0 is the handshake; 1, 2, … the client's messages and control frames. */
  index: number;
  sent: Sent;
  expected: Answer[];
  got: Answer[];
  status: StepStatus;
  /** One sentence per difference (empty when the answers are the same). */
  differences: string[];
  /** Positions (0-based) of the answers that differ, in `expected` and `got` alike (missing or extra ones included). */
  differentAnswers: number[];
  /** How it was sent or why not. */
  note?: string;
}

export interface ConnectionReport {
  conn: number;
  request: string;
  status: 'same' | 'different' | 'skipped' | 'failed';
  note?: string;
  /** The replay's own address (`127.0.0.1:53012`): the wiretap's `open` event names it as `client`. */
  local: string | null;
  /** The wiretap's id for the replayed connection, when the caller could tell (the route does). */
  replayedAs: number | null;
  steps: StepReport[];
}

export interface ReplayReport {
  /** Where the replay connected (the wiretap): `127.0.0.1:9900`. */
  target: string;
  /** How client frames were masked, for a person. */
  masking: string;
  connections: ConnectionReport[];
  totals: { connections: number; steps: number; same: number; different: number; notSent: number };
  /** True when every step of every connection got the recorded answers. */
  same: boolean;
}

export const MASKING_NOTE =
  'Client frames were sent byte for byte as recorded: the recorded masking keys were reused (a real client picks a fresh key per frame, RFC 6455 §5.3), so a recorded violation replays exactly.';

export interface ReplayOptions {
  host: string;
  port: number;
  /** How long a step waits for the answers it expects (default 2 s). */
  replyTimeoutMs?: number;
  /** After the expected answers, how long to wait for more (default 25 ms). */
  settleMs?: number;
  /** After the last step, how long to wait for late answers or the server's end (default 150 ms). */
  endSettleMs?: number;
  /** The whole replay's bound; steps past it are reported as not sent (default 60 s). */
  maxDurationMs?: number;
  /** Connections replayed at most; the rest are reported as skipped (default 200). */
  maxConnections?: number;
}

// ---- answers ------------------------------------------------------------------------------

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

function bytesPreview(b64: string): string {
  return payloadPreview(Buffer.from(b64, 'base64'), false);
}

function closeSummary(code: number, reason: string): string {
  return `CLOSE ${explainCloseCode(code)}${reason ? ` ${quoteText(reason)}` : ''}`;
}

export function httpAnswer(res: HttpResponseHead): Answer {
  return { kind: 'http', status: res.status, reason: res.reason, summary: `HTTP ${res.status} ${res.reason}`.trim() };
}

/** The server's event as an answer, or null for events that are not one (frames, violations, client events). */
export function answerOf(e: WireEvent): Answer | null {
  if (!('dir' in e) || e.dir !== 'server') return null;
  switch (e.type) {
    case 'message': {
      const notes = [plural(e.length, 'byte')];
      if (e.truncated) notes.push('preview');
      if (e.text !== undefined) {
        const a: Answer = { kind: 'text', text: e.text, length: e.length, summary: `TEXT ${quoteText(e.text)} [${notes.join(', ')}]` };
        if (e.truncated) a.truncated = true;
        return a;
      }
      const base64 = e.base64 ?? '';
      if (e.inflateError) notes.push(e.inflateError);
      const a: Answer = { kind: 'binary', base64, length: e.length, summary: `BINARY ${bytesPreview(base64)} [${notes.join(', ')}]` };
      if (e.truncated) a.truncated = true;
      return a;
    }
    case 'ping':
    case 'pong':
      return { kind: e.type, base64: e.payload, summary: `${e.type.toUpperCase()} ${bytesPreview(e.payload)}` };
    case 'close':
      return { kind: 'close', code: e.code, reason: e.reason, summary: closeSummary(e.code, e.reason) };
    default:
      return null;
  }
}

/** Where two texts first differ (UTF-16 index), or -1. */
function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Are two answers the same? Messages by kind, length and content (only the common prefix when
 * either is a preview), control frames by payload, close frames by code (a reason is often an
 * error message with details that change), HTTP answers by status.
 */
export function sameAnswer(a: Answer, b: Answer): boolean {
  switch (a.kind) {
    case 'http':
      return b.kind === 'http' && a.status === b.status;
    case 'text': {
      if (b.kind !== 'text' || a.length !== b.length) return false;
      if (!a.truncated && !b.truncated) return a.text === b.text;
      const n = Math.min(a.text.length, b.text.length);
      return a.text.slice(0, n) === b.text.slice(0, n);
    }
    case 'binary': {
      if (b.kind !== 'binary' || a.length !== b.length) return false;
      const x = Buffer.from(a.base64, 'base64');
      const y = Buffer.from(b.base64, 'base64');
      const n = Math.min(x.length, y.length);
      return x.subarray(0, n).equals(y.subarray(0, n)) && (a.truncated || b.truncated || x.length === y.length);
    }
    case 'ping':
    case 'pong':
      return b.kind === a.kind && a.base64 === b.base64;
    case 'close':
      return b.kind === 'close' && a.code === b.code;
  }
}

/** Positions of the answers that differ between the two lists. */
export function differentAnswers(expected: Answer[], got: Answer[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(expected.length, got.length); i++) {
    const e = expected[i];
    const g = got[i];
    if (!e || !g || !sameAnswer(e, g)) out.push(i);
  }
  return out;
}

/**
 * One sentence per difference between the recorded answers and the new ones. `short` says why
 * fewer answers came, when they did: `within 2 s`, `(then the server closed the connection)`.
 */
export function compareAnswers(expected: Answer[], got: Answer[], short?: string): string[] {
  const out: string[] = [];
  if (expected.length !== got.length) {
    const why = short && got.length < expected.length ? ` ${short}` : '';
    out.push(`The recording has ${plural(expected.length, 'answer')} here; the server gave ${plural(got.length, 'answer')}${why}.`);
  }
  const n = Math.max(expected.length, got.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const g = got[i];
    if (e && g) {
      if (sameAnswer(e, g)) continue;
      let detail = '';
      if (e.kind === 'text' && g.kind === 'text' && e.summary === g.summary) detail = ` (they differ at character ${firstDifference(e.text, g.text) + 1})`;
      out.push(`Answer ${i + 1}: the recording has ${e.summary}, the server sent ${g.summary}${detail}.`);
    } else if (e) {
      out.push(`Answer ${i + 1}: the recording has ${e.summary}, the server sent nothing.`);
    } else if (g) {
      out.push(`Answer ${i + 1}: not in the recording, the server sent ${g.summary}.`);
    }
  }
  return out;
}

// ---- planning (pure) -----------------------------------------------------------------------

const ANSWER_TYPES = new Set(['message', 'ping', 'pong', 'close']);

/** The frame as it went on the wire: the recorded header, then the payload masked with the recorded key. */
function frameBytes(f: FrameEvent): Buffer {
  const header = Buffer.from(f.header, 'hex');
  const payload = Buffer.from(f.payload, 'base64');
  if (f.masked && f.maskKey) {
    const key = Buffer.from(f.maskKey, 'hex');
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  }
  return Buffer.concat([header, payload]);
}

interface Building {
  step: PlannedStep;
  frames: FrameEvent[];
  message: MessageEvent | null;
  other: string | null;
}

function sentSummary(b: Building): string {
  const m = b.message;
  if (m) {
    const body = m.text !== undefined ? quoteText(m.text) : bytesPreview(m.base64 ?? '');
    const notes = [plural(m.length, 'byte')];
    if (m.frames > 1) notes.push(`${m.frames} fragments`);
    if (m.compressed) notes.push('compressed');
    if (m.truncated) notes.push('preview');
    return `${m.opcode === 1 ? 'TEXT' : 'BINARY'} ${body} [${notes.join(', ')}]`;
  }
  if (b.other) return b.other;
  // Frames that made no message: a lone fragment, a reserved opcode, a frame cut short.
  return b.frames
    .map((f) => {
      const notes = [plural(f.length, 'byte')];
      if (!f.fin) notes.push('FIN=0');
      if (f.complete === false) notes.push('cut short');
      return `${opcodeName(f.opcode)} ${f.rsv1 ? '(compressed)' : payloadPreview(Buffer.from(f.payload, 'base64'), f.opcode <= 1)} [${notes.join(', ')}]`;
    })
    .join(' + ');
}

/** The whole message as one uncompressed frame with the first frame's masking key, or null. */
function rebuildUncompressed(b: Building): Buffer | null {
  const m = b.message;
  if (!m || m.truncated || m.inflateError || m.utf8Valid === false) return null;
  // Only when the step is exactly this message's frames (no control frame in between).
  if (b.frames.length !== m.frames || b.frames[0]!.seq !== m.firstFrame) return null;
  const payload = m.text !== undefined ? Buffer.from(m.text, 'utf8') : Buffer.from(m.base64 ?? '', 'base64');
  const first = b.frames[0]!;
  const frame = buildFrame({
    fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: m.opcode, mask: first.masked, maskKey: first.maskKey ?? undefined,
    payload: { kind: 'hex', hex: toHex(payload, '') },
  });
  return Buffer.from(frame.bytes);
}

function finish(b: Building): PlannedStep {
  const s = b.step;
  s.sent = { summary: sentSummary(b), frames: b.frames.length, bytes: 0 };
  const cut = b.frames.find((f) => f.truncated);
  if (cut) {
    s.unsendable = `Frame ${cut.seq} was recorded only in part (the first ${Buffer.from(cut.payload, 'base64').length.toLocaleString('en-US')} of ${cut.length.toLocaleString('en-US')} bytes, the wiretap's preview bound): it cannot be sent again.`;
    return s;
  }
  s.bytes = Buffer.concat(b.frames.map(frameBytes));
  s.sent.bytes = s.bytes.length;
  s.compressed = b.frames.some((f) => f.rsv1 && (f.opcode & 8) === 0);
  if (s.compressed) s.uncompressed = rebuildUncompressed(b);
  return s;
}

function emptyStep(): PlannedStep {
  return { sent: { summary: '', frames: 0, bytes: 0 }, bytes: null, compressed: false, uncompressed: null, expected: [] };
}

/** Plan the replay of every connection in the recording, in the order they first appear. */
export function planReplay(events: WireEvent[]): ConnectionPlan[] {
  const byConn = new Map<number, WireEvent[]>();
  for (const e of events) {
    let list = byConn.get(e.conn);
    if (!list) byConn.set(e.conn, (list = []));
    list.push(e);
  }
  return [...byConn].map(([conn, list]) => planConnection(conn, list));
}

function planConnection(conn: number, events: WireEvent[]): ConnectionPlan {
  const hs = events.find((e): e is HandshakeEvent => e.type === 'handshake') ?? null;
  const handshake = emptyStep();
  const plan: ConnectionPlan = { conn, requestLine: '(no request)', deflate: hs?.deflate ?? null, handshake, steps: [] };
  const req = hs?.request ?? null;
  if (req) plan.requestLine = `${req.method} ${req.path} ${req.version}`;
  if (!hs || !req) {
    plan.skip = hs?.outcome === 'not-http' ? 'The client did not speak HTTP: there is no request to send again.' : 'The recording has no HTTP request for this connection (it ended before one, or its first events were dropped).';
    return plan;
  }
  const head = Buffer.from(req.raw, 'base64');
  if (!head.subarray(-4).equals(Buffer.from('\r\n\r\n'))) {
    plan.skip = `The request head was recorded only in part (${head.length.toLocaleString('en-US')} bytes, no blank line at its end): it cannot be sent again.`;
    return plan;
  }
  handshake.bytes = head;
  handshake.sent = { summary: `${plan.requestLine} (the recorded request head)`, frames: 0, bytes: head.length };
  if (hs.response) handshake.expected.push(httpAnswer(hs.response));

  const building: Building[] = [];
  let open: Building | null = null;
  const bySeq = new Map<number, Building>();
  let current: PlannedStep = handshake;
  for (const e of events) {
    if (e.type === 'frame' && e.dir === 'client') {
      if (!open) {
        open = { step: emptyStep(), frames: [], message: null, other: null };
        building.push(open);
        current = open.step;
      }
      open.frames.push(e);
      bySeq.set(e.seq, open);
      if (e.fin) open = null;
    } else if ('dir' in e && e.dir === 'client' && ANSWER_TYPES.has(e.type)) {
      // The client's own message, ping, pong or close: names what its step sends.
      const seq = e.type === 'message' ? e.lastFrame : (e as { frame: number }).frame;
      const b = bySeq.get(seq);
      if (!b) continue;
      if (e.type === 'message') b.message = e;
      else if (e.type === 'close') b.other = closeSummary(e.code, e.reason);
      else if (e.type === 'ping' || e.type === 'pong') b.other = `${e.type.toUpperCase()} ${bytesPreview(e.payload)}`;
    } else {
      const a = answerOf(e);
      if (a) current.expected.push(a);
    }
  }
  plan.steps = building.map(finish);
  return plan;
}

// ---- running (I/O) -------------------------------------------------------------------------

const deflateKey = (d: PerMessageDeflateParams | null) =>
  d ? `${d.clientNoContextTakeover}/${d.clientMaxWindowBits}/${d.serverNoContextTakeover}/${d.serverMaxWindowBits}` : 'none';

function describeDeflate(d: PerMessageDeflateParams | null): string {
  if (!d) return 'no compression';
  const p: string[] = [];
  if (d.clientNoContextTakeover) p.push('client_no_context_takeover');
  if (d.serverNoContextTakeover) p.push('server_no_context_takeover');
  if (d.clientMaxWindowBits !== 15) p.push(`client_max_window_bits=${d.clientMaxWindowBits}`);
  if (d.serverMaxWindowBits !== 15) p.push(`server_max_window_bits=${d.serverMaxWindowBits}`);
  return `permessage-deflate${p.length ? `; ${p.join('; ')}` : ''}`;
}

/** Replay every planned connection, one after another, and report. */
export async function runReplay(plans: ConnectionPlan[], opts: ReplayOptions): Promise<ReplayReport> {
  const deadline = performance.now() + (opts.maxDurationMs ?? 60_000);
  const maxConnections = opts.maxConnections ?? 200;
  const connections: ConnectionReport[] = [];
  for (const [i, plan] of plans.entries()) {
    if (i >= maxConnections) {
      connections.push(skipped(plan, `Not replayed: a replay covers the first ${maxConnections} connections of a recording.`));
      continue;
    }
    connections.push(await replayConnection(plan, opts, deadline));
  }
  const steps = connections.flatMap((c) => c.steps);
  const totals = {
    connections: connections.length,
    steps: steps.length,
    same: steps.filter((s) => s.status === 'same').length,
    different: steps.filter((s) => s.status === 'different').length,
    notSent: steps.filter((s) => s.status === 'not-sent').length,
  };
  return {
    target: `${opts.host}:${opts.port}`,
    masking: MASKING_NOTE,
    connections,
    totals,
    same: connections.length > 0 && connections.every((c) => c.status === 'same'),
  };
}

function notSent(step: PlannedStep, index: number, note: string): StepReport {
  return { index, sent: step.sent, expected: step.expected, got: [], status: 'not-sent', differences: [], differentAnswers: [], note };
}

function skipped(plan: ConnectionPlan, note: string): ConnectionReport {
  return { conn: plan.conn, request: plan.requestLine, status: 'skipped', note, local: null, replayedAs: null, steps: [] };
}

async function replayConnection(plan: ConnectionPlan, opts: ReplayOptions, deadline: number): Promise<ConnectionReport> {
  if (plan.skip) return skipped(plan, plan.skip);
  const replyTimeout = opts.replyTimeoutMs ?? 2000;
  const settle = opts.settleMs ?? 25;
  const report: ConnectionReport = { conn: plan.conn, request: plan.requestLine, status: 'same', local: null, replayedAs: null, steps: [] };
  const all = [plan.handshake, ...plan.steps];

  const socket = net.connect({ host: opts.host, port: opts.port });
  socket.setNoDelay(true);
  const decoder = new ConnectionDecoder(plan.conn);
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const answers: Answer[] = [];
  let handshake: HandshakeEvent | null = null;
  /** Why the connection is gone, once it is. */
  let gone: string | null = null;
  let connected = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const take = (events: WireEvent[]) => {
    for (const e of events) {
      if (e.type === 'handshake') {
        handshake = e;
        if (e.response) answers.push(httpAnswer(e.response));
      } else {
        const a = answerOf(e);
        if (a) answers.push(a);
      }
    }
  };
  socket.on('connect', () => {
    connected = true;
    notify();
  });
  socket.on('data', (chunk: Buffer) => {
    take(decoder.receive('server', chunk, now()));
    notify();
  });
  socket.on('end', () => {
    gone ??= 'the server closed the connection';
    notify();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    gone ??= connected ? `the connection failed (${err.code ?? err.message})` : `could not connect to ${opts.host}:${opts.port} (${err.code ?? err.message})`;
    notify();
  });
  socket.on('close', () => {
    gone ??= 'the connection closed';
    take(decoder.end(now(), 'server'));
    notify();
  });

  /** Resolve when `done()` holds, the connection is gone, or `ms` have passed; true if `done()`. */
  const wait = async (done: () => boolean, ms: number): Promise<boolean> => {
    const until = performance.now() + ms;
    while (!done() && gone === null) {
      const left = until - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return done();
  };
  const send = (bytes: Buffer) => {
    socket.write(bytes);
    take(decoder.receive('client', bytes, now()));
  };
  /** A sent step: gather its answers and compare. */
  const collect = async (step: PlannedStep, index: number, note?: string, ready = () => true): Promise<StepReport> => {
    const want = step.expected.length;
    let complete = true;
    if (want > 0 || !ready()) {
      complete = await wait(() => ready() && answers.length >= want, replyTimeout);
      if (complete) await wait(() => false, settle);
    }
    const got = answers.splice(0);
    const differences = compareAnswers(step.expected, got, complete ? undefined : gone ? `(then ${gone})` : `within ${replyTimeout / 1000} s`);
    const r: StepReport = {
      index, sent: step.sent, expected: step.expected, got, status: differences.length ? 'different' : 'same', differences, differentAnswers: differentAnswers(step.expected, got),
    };
    if (note) r.note = note;
    return r;
  };

  try {
    await wait(() => connected, Math.max(0, Math.min(5000, deadline - performance.now())));
    if (!connected) {
      report.status = 'failed';
      report.note = gone ? `The replay ${gone}.` : `The replay could not connect to ${opts.host}:${opts.port} within 5 s.`;
      report.steps = all.map((s, i) => notSent(s, i, 'Not sent: no connection.'));
      return report;
    }
    report.local = `${socket.localAddress}:${socket.localPort}`;

    send(plan.handshake.bytes!);
    const hsReport = await collect(plan.handshake, 0, undefined, () => handshake !== null);
    report.steps.push(hsReport);
    const upgraded = (handshake as HandshakeEvent | null)?.outcome === 'upgraded';
    const hsNow = handshake as HandshakeEvent | null;
    const sameDeflate = deflateKey(plan.deflate) === deflateKey(hsNow?.deflate ?? null);
    if (upgraded && !sameDeflate) {
      hsReport.note = `The server now negotiates ${describeDeflate(hsNow!.deflate)}; the recording has ${describeDeflate(plan.deflate)}.`;
    }

    for (const [i, step] of plan.steps.entries()) {
      const index = i + 1;
      if (!upgraded) {
        const why = hsNow?.response ? `the server answered ${hsNow.response.status} ${hsNow.response.reason}, not 101` : `the server did not answer the request${gone ? ` (${gone})` : ` within ${replyTimeout / 1000} s`}`;
        report.steps.push(notSent(step, index, `Not sent: ${why}, so there is no WebSocket to send it on.`));
        continue;
      }
      if (performance.now() > deadline) {
        report.steps.push(notSent(step, index, `Not sent: the replay's time bound (${(opts.maxDurationMs ?? 60_000) / 1000} s) was reached.`));
        continue;
      }
      if (gone !== null || socket.destroyed || !socket.writable) {
        report.steps.push(notSent(step, index, `Not sent: ${gone ?? 'the connection was closed'} before this step.`));
        continue;
      }
      if (step.unsendable) {
        report.steps.push(notSent(step, index, `Not sent: ${step.unsendable}`));
        continue;
      }
      let bytes = step.bytes!;
      let note: string | undefined;
      if (step.compressed && !sameDeflate) {
        if (!step.uncompressed) {
          report.steps.push(notSent(step, index, 'Not sent: it was compressed with the recorded permessage-deflate settings, which the server no longer agrees to, and the recording does not hold its whole text to send it uncompressed.'));
          continue;
        }
        bytes = step.uncompressed;
        note = 'Sent uncompressed: the server no longer agrees to the recorded compression.';
      }
      send(bytes);
      report.steps.push(await collect(step, index, note));
    }

    // Answers that come after the last step still count: they are not in the recording there.
    await wait(() => false, opts.endSettleMs ?? 150);
    const last = [...report.steps].reverse().find((s) => s.status !== 'not-sent');
    if (last && answers.length > 0) {
      last.got.push(...answers.splice(0));
      last.differences = compareAnswers(last.expected, last.got);
      last.differentAnswers = differentAnswers(last.expected, last.got);
      last.status = last.differences.length ? 'different' : 'same';
    }
  } finally {
    await closeSocket(socket);
  }
  if (report.steps.some((s) => s.status !== 'same')) report.status = 'different';
  return report;
}

function closeSocket(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), 500);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}
