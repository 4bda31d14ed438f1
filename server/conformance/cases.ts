/**
 * The cases, numbered and grouped as Autobahn|Testsuite numbers them, each re-told: what is
 * sent, what a conforming peer does, the RFC's sentence that says so. A case is role-agnostic:
 * the same script runs against a server (the runner is the client and masks its frames) and
 * against a client (`--client`: the runner is the server).
 *
 * Nothing here touches I/O or Node's Buffer at load time: the dashboard imports CASES.
 */
import type { CaseDef, CaseGroup } from './types.ts';
import type { Item, Session } from './session.ts';
import { DEFLATE_CASES } from './cases-deflate.ts';

/** How the case must end (Autobahn's expectedClose). `runner`: the runner starts the close. */
export interface CloseExpect {
  by: 'runner' | 'peer';
  codes: number[];
  requireClean: boolean;
  /** 6.x: a peer that lets invalid UTF-8 through and leaves the close to the runner FAILs. */
  wrongEndpointFatal?: boolean;
  /** 7.x: a close code outside `codes` FAILs the case (Autobahn's group 7). */
  wrongCodeFatal?: boolean;
}

/** A case's own judgement, for cases that count rather than compare (groups 9, 12, 13). */
export interface OwnJudgement {
  behavior: 'OK' | 'FAILED' | 'UNIMPLEMENTED' | 'INFORMATIONAL';
  observed: string;
}

export interface Script {
  /** Outcomes that count: `ok` is PASS, `nonStrict` is NON-STRICT (Autobahn's "expected"). */
  expect: { ok: Item[]; nonStrict?: Item[] };
  close: CloseExpect;
  nonStrictWhy?: string;
  /** The RFC leaves the outcome open: the verdict is INFORMATIONAL whatever happens. */
  informational?: boolean;
  /** Send the runner's probe ping after the frames when the peer is expected to fail (default true). */
  probe?: boolean;
  /** Sec-WebSocket-Extensions offer the runner makes as a client (groups 12, 13). */
  offer?: string;
  /** Parameters the runner adds when it accepts a client's offer, as a server ("client_max_window_bits=9"). */
  accept?: string;
  /** Longer case timeout (group 9). */
  long?: boolean;
  run(s: Session): Promise<void>;
  /** Overrides the comparison with `expect` (groups 9, 12, 13). */
  judge?: (s: Session) => OwnJudgement;
}

export interface Case extends CaseDef {
  script(): Script;
}

// ---- helpers (called only inside script(), where Buffer exists) ----------------------------

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');
const text = (s: string | Buffer): Item => ({ kind: 'message', binary: false, data: typeof s === 'string' ? b(s) : s });
const binary = (d: Buffer): Item => ({ kind: 'message', binary: true, data: d });
const pong = (s: string | Buffer): Item => ({ kind: 'pong', data: typeof s === 'string' ? b(s) : s });
const timeout = (tag: string): Item => ({ kind: 'timeout', tag });

const NORMAL: CloseExpect = { by: 'runner', codes: [1000], requireClean: true };
const FAIL_1002: CloseExpect = { by: 'peer', codes: [1002], requireClean: false };
const FAIL_1007: CloseExpect = { by: 'peer', codes: [1007], requireClean: false, wrongEndpointFatal: true };

// ---- the RFC's sentences -------------------------------------------------------------------

const RFC = {
  length: { section: 'RFC 6455 §5.2', must: 'The length of the "Payload data", in bytes: if 0-125, that is the payload length. If 126, the following 2 bytes interpreted as a 16-bit unsigned integer are the payload length. If 127, the following 8 bytes interpreted as a 64-bit unsigned integer are the payload length.' },
  pong: { section: 'RFC 6455 §5.5.2', must: 'Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response, unless it already received a Close frame.' },
  pongData: { section: 'RFC 6455 §5.5.3', must: 'A Pong frame sent in response to a Ping frame must have identical "Application data" as found in the message body of the Ping frame being replied to.' },
  unsolicited: { section: 'RFC 6455 §5.5.3', must: 'A Pong frame MAY be sent unsolicited. This serves as a unidirectional heartbeat. A response to an unsolicited Pong frame is not expected.' },
  control125: { section: 'RFC 6455 §5.5', must: 'All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented.' },
  rsv: { section: 'RFC 6455 §5.2', must: 'RSV1, RSV2, RSV3: MUST be 0 unless an extension is negotiated that defines meanings for non-zero values. If a nonzero value is received and none of the negotiated extensions defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_.' },
  opcode: { section: 'RFC 6455 §5.2', must: 'If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_.' },
  fragments: { section: 'RFC 6455 §5.4', must: 'A fragmented message consists of a single frame with the FIN bit clear and an opcode other than 0, followed by zero or more frames with the FIN bit clear and the opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0.' },
  controlInside: { section: 'RFC 6455 §5.4', must: 'An endpoint MUST be capable of handling control frames in the middle of a fragmented message.' },
  tcpClean: { section: 'RFC 6455 §5.4', must: 'Message fragments MUST be delivered to the recipient in the order sent by the sender.' },
  utf8: { section: 'RFC 6455 §8.1', must: 'When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_.' },
  utf8Whole: { section: 'RFC 6455 §5.6', must: 'Note that a particular text frame might include a partial UTF-8 sequence; however, the whole message MUST contain valid UTF-8.' },
  closeReply: { section: 'RFC 6455 §5.5.1', must: 'If an endpoint receives a Close frame and did not previously send a Close frame, the endpoint MUST send a Close frame in response.' },
  afterClose: { section: 'RFC 6455 §5.5.1', must: 'After sending a Close frame, the endpoint MUST NOT send any more data frames.' },
  closeBody: { section: 'RFC 6455 §5.5.1', must: 'If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer (in network byte order) representing a status code.' },
  closeReason: { section: 'RFC 6455 §5.5.1', must: 'Following the 2-byte integer, the body MAY contain UTF-8-encoded data with value /reason/.' },
  codes: { section: 'RFC 6455 §7.4.1, §7.4.2', must: '1005 ... is a reserved value and MUST NOT be set as a status code in a Close control frame by an endpoint. Status codes in the range 0-999 are not used.' },
  limits: { section: 'RFC 6455 §10.4', must: 'Implementations that have implementation- and/or platform-specific limitations regarding the frame size or total message size after reassembly from multiple frames MUST protect themselves against exceeding those limits.' },
  pmd: { section: 'RFC 7692 §7.2.1', must: 'An endpoint uses the following algorithm to compress a message: compress all the octets of the payload of the message using DEFLATE; if the resulting data does not end with an empty DEFLATE block with no compression, append one; remove 4 octets (0x00 0x00 0xff 0xff) from the tail end.' },
  pmdParams: { section: 'RFC 7692 §7.1', must: 'A server MUST decline an extension negotiation offer for this extension if the negotiation offer contains an extension parameter not defined for use in an offer, or has an invalid value.' },
};

const HINT = {
  echo: 'An echo peer sends each message back as it came: same type (text or binary), same bytes. Check the length encoding (7, 16 or 64 bits) in your frame writer and that you read the whole payload, however TCP splits it.',
  pong: 'Answer every ping with a pong carrying the same payload, right away, even in the middle of a fragmented message. Most libraries do it for you (ws: autoPong); if you turned that off, send ws.pong(data) in the ping handler.',
  fail1002: 'Refuse the frame: send a close frame with 1002 (protocol error) and close the connection. Do not echo it, do not answer later frames.',
  utf8: 'Validate text messages as UTF-8 before using them (ws does unless skipUTF8Validation is set) and close with 1007 on the first invalid byte.',
  close: 'Answer a close frame with a close frame (echo its code), stop sending data, and let the server end TCP.',
  badCode: 'Check the code in a close frame you receive: 1000-1003, 1007-1014 and 3000-4999 are valid; anything else (0, 999, 1004-1006, 1015-2999, 5000+) gets a close frame with 1002.',
  limits: 'Handle big messages and many of them: stream or buffer without quadratic copies, and keep a maximum message size you enforce with 1009.',
  deflate: 'Accept permessage-deflate (ws: perMessageDeflate: true) and inflate each compressed message: append 00 00 ff ff to the payload before inflating (RFC 7692 §7.2.2).',
};

// ---- building ------------------------------------------------------------------------------

const CASE_LIST: Case[] = [];

function add(id: string, title: string, description: string, expectation: string, rfc: { section: string; must: string }, hint: string, script: () => Script): void {
  const group = Number(id.split('.')[0]) as CaseGroup;
  CASE_LIST.push({ id, group, title, description, expectation, rfc, hint, script });
}

/** Sends a frame's bytes in one write, per frame (Autobahn "sync"), or octet by octet. */
type Chop = undefined | 'frame' | 1;
const chopOf = (c: Chop): number | undefined => (c === 1 ? 1 : undefined);

// ---- 1 Framing -----------------------------------------------------------------------------

const SIZES = [0, 125, 126, 127, 128, 65535, 65536];
for (const [sub, isBinary] of [[1, false], [2, true]] as const) {
  const title = isBinary ? 'Binary messages' : 'Text messages';
  const kind = isBinary ? 'binary' : 'text';
  SIZES.forEach((n, i) => {
    add(`1.${sub}.${i + 1}`, title, `Send one ${kind} message with a payload of ${n} bytes${n >= 126 ? ` (${n < 65536 ? '16' : '64'}-bit length field)` : ''}.`,
      `The ${kind} message comes back with the same ${n} bytes; the runner closes with 1000 and the close handshake completes.`, RFC.length, HINT.echo, () => {
        const data = Buffer.alloc(n, isBinary ? 0xfe : 0x2a);
        return { expect: { ok: [isBinary ? binary(data) : text(data)] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: isBinary ? 2 : 1, payload: data })) };
      });
  });
  add(`1.${sub}.8`, title, `Send one ${kind} message of 65536 bytes, written to TCP in pieces of 997 bytes.`,
    `The message comes back whole, however TCP split it; then a clean close with 1000.`, RFC.length, HINT.echo, () => {
      const data = Buffer.alloc(65536, isBinary ? 0xfe : 0x2a);
      return { expect: { ok: [isBinary ? binary(data) : text(data)] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: isBinary ? 2 : 1, payload: data }, { chop: 997 })) };
    });
}

// ---- 2 Pings and pongs ---------------------------------------------------------------------

function pingCase(id: string, what: string, payload: () => Buffer, chop?: number): void {
  add(id, 'Pings and pongs', `Send a ping ${what}${chop ? ', written one byte at a time' : ''}.`, 'A pong comes back with the same payload; then a clean close with 1000.', RFC.pongData, HINT.pong, () => {
    const p = payload();
    return { expect: { ok: [pong(p)] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: 9, payload: p }, { chop })) };
  });
}
pingCase('2.1', 'with no payload', () => Buffer.alloc(0));
pingCase('2.2', 'with a short text payload ("Hello, world!")', () => b('Hello, world!'));
pingCase('2.3', 'with a short binary payload that is not UTF-8', () => hex('00 ff fe fd fc fb 00 ff'));
pingCase('2.4', 'with a binary payload of 125 bytes, the most a control frame may carry', () => Buffer.alloc(125, 0xfe));
add('2.5', 'Pings and pongs', 'Send a ping with a 126-byte payload: one byte more than a control frame may carry.', 'The peer fails the connection (close 1002) and sends no pong.', RFC.control125, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: 9, payload: Buffer.alloc(126, 0xfe) }), 1),
}));
pingCase('2.6', 'with a binary payload of 125 bytes', () => Buffer.alloc(125, 0xfe), 1);
add('2.7', 'Pings and pongs', 'Send an unsolicited pong with no payload, then a close frame (1000).', 'Nothing comes back but the close frame: an unsolicited pong needs no answer.', RFC.unsolicited, HINT.close, () => ({
  expect: { ok: [] }, close: NORMAL, run: async (s) => { await s.send({ opcode: 10 }); await s.sendClose(1000); },
}));
add('2.8', 'Pings and pongs', 'Send an unsolicited pong with a payload, then a close frame (1000).', 'Nothing comes back but the close frame.', RFC.unsolicited, HINT.close, () => ({
  expect: { ok: [] }, close: NORMAL, run: async (s) => { await s.send({ opcode: 10, payload: b('unsolicited pong payload') }); await s.sendClose(1000); },
}));
add('2.9', 'Pings and pongs', 'Send an unsolicited pong, then a ping with a payload.', 'Nothing for the pong; a pong with the ping\'s payload for the ping.', RFC.pongData, HINT.pong, () => ({
  expect: { ok: [pong('ping payload')] }, close: NORMAL, run: async (s) => { await s.send({ opcode: 10, payload: b('unsolicited pong payload') }); await s.send({ opcode: 9, payload: b('ping payload') }); },
}));
for (const [id, chop] of [['2.10', undefined], ['2.11', 1]] as const) {
  add(id, 'Pings and pongs', `Send 10 pings in a row, payloads "payload-0" to "payload-9"${chop ? ', written one byte at a time' : ''}.`,
    'Ten pongs with the ten payloads, in order. (The RFC lets a busy peer answer only the latest ping; this case, like Autobahn\'s, wants all ten.)', RFC.pong, HINT.pong, () => {
      const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
      return {
        expect: { ok: payloads.map((p) => pong(p)) }, close: NORMAL,
        run: async (s) => { for (const p of payloads) await s.send({ opcode: 9, payload: b(p) }, { chop }); },
      };
    });
}

// ---- 3 Reserved bits -----------------------------------------------------------------------

add('3.1', 'Reserved bits', 'Send a short text message with RSV = 1 (the RSV3 bit) and no extension negotiated.', 'The peer fails the connection at once (1002).', RFC.rsv, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: 1, rsv: 1, payload: b('Hello, world!') }), 0),
}));
for (const [id, rsv, chop] of [['3.2', 2, undefined], ['3.3', 3, 'frame'], ['3.4', 4, 1]] as const) {
  add(id, 'Reserved bits', `Send a text message, then the same with RSV = ${rsv}, then a ping${chop === 'frame' ? ', each frame in its own write' : chop === 1 ? ', one byte at a time' : ''}.`,
    'The first message is echoed, then the peer fails the connection (1002) and never answers the ping.', RFC.rsv, HINT.fail1002, () => ({
      expect: { ok: [text('Hello, world!')], nonStrict: [] }, close: FAIL_1002,
      nonStrictWhy: 'The peer failed the connection before echoing the valid first message: allowed (it read all three frames at once), but the case prefers the echo first.',
      run: async (s) => {
        await s.send({ opcode: 1, payload: b('Hello, world!') }, { chop: chopOf(chop) });
        s.markOffending(await s.send({ opcode: 1, rsv, payload: b('Hello, world!') }, { chop: chopOf(chop) }), 0);
        await s.send({ opcode: 9 }, { chop: chopOf(chop) });
      },
    }));
}
add('3.5', 'Reserved bits', 'Send a small binary message with RSV = 5 (RSV1 and RSV3).', 'The peer fails the connection at once (1002).', RFC.rsv, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: 2, rsv: 5, payload: hex('00 ff fe fd fc fb 00 ff') }), 0),
}));
add('3.6', 'Reserved bits', 'Send a binary frame with RSV = 6 (RSV1 and RSV2).', 'The peer fails the connection at once (1002).', RFC.rsv, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: 2, rsv: 6, payload: b('Hello, world!') }), 0),
}));
add('3.7', 'Reserved bits', 'Send a close frame with RSV = 7 (all three bits).', 'The peer fails the connection at once (1002) instead of treating it as a close.', RFC.rsv, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: 8, rsv: 7 }), 0),
}));

// ---- 4 Opcodes -----------------------------------------------------------------------------

for (const [sub, base, kind] of [[1, 3, 'non-control'], [2, 11, 'control']] as const) {
  const title = `Reserved ${kind} opcodes`;
  add(`4.${sub}.1`, title, `Send a frame with the reserved ${kind} opcode ${base}.`, 'The peer fails the connection at once (1002).', RFC.opcode, HINT.fail1002, () => ({
    expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: base }), 0),
  }));
  add(`4.${sub}.2`, title, `Send a frame with the reserved ${kind} opcode ${base + 1} and a payload.`, 'The peer fails the connection at once (1002).', RFC.opcode, HINT.fail1002, () => ({
    expect: { ok: [] }, close: FAIL_1002, run: async (s) => s.markOffending(await s.send({ opcode: base + 1, payload: b('reserved opcode payload') }), 0),
  }));
  for (let k = 3; k <= 5; k++) {
    const op = base + k - 1;
    const chop = k === 5 ? 1 : undefined;
    add(`4.${sub}.${k}`, title, `Send a text message, then a frame with the reserved ${kind} opcode ${op}${k > 3 ? ' and a payload' : ''}, then a ping${chop ? ', one byte at a time' : ''}.`,
      'The message is echoed, then the peer fails the connection (1002); no pong.', RFC.opcode, HINT.fail1002, () => ({
        expect: { ok: [text('Hello, world!')], nonStrict: [] }, close: FAIL_1002,
        nonStrictWhy: 'The peer failed the connection before echoing the valid first message: allowed, but the case prefers the echo first.',
        run: async (s) => {
          await s.send({ opcode: 1, payload: b('Hello, world!') }, { chop });
          s.markOffending(await s.send({ opcode: op, payload: k > 3 ? b('Hello, world!') : undefined }, { chop }), 0);
          await s.send({ opcode: 9 }, { chop });
        },
      }));
  }
}

// ---- 5 Fragmentation -----------------------------------------------------------------------

add('5.1', 'Fragmentation', 'Send a ping in two fragments (FIN clear on the first, then a continuation).', 'The peer fails the connection (1002): control frames must not be fragmented.', RFC.control125, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => { s.markOffending(await s.send({ opcode: 9, fin: false, payload: b('fragment1') }), 0); await s.send({ opcode: 0, payload: b('fragment2') }); },
}));
add('5.2', 'Fragmentation', 'Send a pong in two fragments.', 'The peer fails the connection (1002): control frames must not be fragmented.', RFC.control125, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => { s.markOffending(await s.send({ opcode: 10, fin: false, payload: b('fragment1') }), 0); await s.send({ opcode: 0, payload: b('fragment2') }); },
}));
for (const [id, chop, how] of [['5.3', undefined, ''], ['5.4', 'frame', ', each frame in its own write'], ['5.5', 1, ', one byte at a time']] as const) {
  add(id, 'Fragmentation', `Send a text message in two fragments${how}.`, 'The message is put together and echoed as one.', RFC.fragments, 'Collect continuation frames until FIN and hand the application one message.', () => ({
    expect: { ok: [text('fragment1fragment2')] }, close: NORMAL,
    run: async (s) => { await s.send({ opcode: 1, fin: false, payload: b('fragment1') }, { chop: chopOf(chop) }); await s.send({ opcode: 0, payload: b('fragment2') }, { chop: chopOf(chop) }); },
  }));
}
for (const [id, chop, how] of [['5.6', undefined, ''], ['5.7', 'frame', ', each frame in its own write'], ['5.8', 1, ', one byte at a time']] as const) {
  add(id, 'Fragmentation', `Send a text message in two fragments with a ping between them${how}.`, 'A pong first, then the whole message echoed.', RFC.controlInside, HINT.pong, () => ({
    expect: { ok: [pong('ping payload'), text('fragment1fragment2')] }, close: NORMAL,
    run: async (s) => {
      await s.send({ opcode: 1, fin: false, payload: b('fragment1') }, { chop: chopOf(chop) });
      await s.send({ opcode: 9, payload: b('ping payload') }, { chop: chopOf(chop) });
      await s.send({ opcode: 0, payload: b('fragment2') }, { chop: chopOf(chop) });
    },
  }));
}
for (const [first, fin] of [[9, true], [12, false]] as const) {
  ([[undefined, ''], ['frame', ', each frame in its own write'], [1, ', one byte at a time']] as const).forEach(([chop, how], k) => {
    add(`5.${first + k}`, 'Fragmentation', `Send a continuation frame (FIN ${fin ? 'set' : 'clear'}) when no message is under way, then a text message${how}.`, 'The peer fails the connection at once (1002): there is nothing to continue.', RFC.fragments, HINT.fail1002, () => ({
      expect: { ok: [] }, close: FAIL_1002,
      run: async (s) => { s.markOffending(await s.send({ opcode: 0, fin, payload: b('non-continuation payload') }, { chop: chopOf(chop) }), 0); await s.send({ opcode: 1, payload: b('Hello, world!') }, { chop: chopOf(chop) }); },
    }));
  });
}
add('5.15', 'Fragmentation', 'Send a text message in two fragments, then a continuation frame (FIN clear) with nothing to continue, then a text message.', 'The first message is echoed; then the peer fails the connection (1002).', RFC.fragments, HINT.fail1002, () => ({
  expect: { ok: [text('fragment1fragment2')], nonStrict: [] }, close: FAIL_1002,
  nonStrictWhy: 'The peer failed the connection before echoing the valid first message: allowed, but the case prefers the echo first.',
  run: async (s) => {
    await s.send({ opcode: 1, fin: false, payload: b('fragment1') });
    await s.send({ opcode: 0, payload: b('fragment2') });
    s.markOffending(await s.send({ opcode: 0, fin: false, payload: b('fragment3') }), 0);
    await s.send({ opcode: 1, payload: b('fragment4') });
  },
}));
for (const [id, fin] of [['5.16', false], ['5.17', true]] as const) {
  add(id, 'Fragmentation', `Twice: a continuation frame (FIN ${fin ? 'set' : 'clear'}) with nothing to continue, then a text message in two fragments.`, 'The peer fails the connection at once (1002).', RFC.fragments, HINT.fail1002, () => ({
    expect: { ok: [] }, close: FAIL_1002,
    run: async (s) => {
      for (let i = 0; i < 2; i++) {
        const seq = await s.send({ opcode: 0, fin, payload: b('fragment1') });
        if (i === 0) s.markOffending(seq, 0);
        await s.send({ opcode: 1, fin: false, payload: b('fragment2') });
        await s.send({ opcode: 0, payload: b('fragment3') });
      }
    },
  }));
}
add('5.18', 'Fragmentation', 'Send a text message in two fragments whose opcodes are both text (1).', 'The peer fails the connection (1002): every frame after the first must be a continuation (0).', RFC.fragments, HINT.fail1002, () => ({
  expect: { ok: [] }, close: FAIL_1002, run: async (s) => { await s.send({ opcode: 1, fin: false, payload: b('fragment1') }); s.markOffending(await s.send({ opcode: 1, payload: b('fragment2') }), 0); },
}));
for (const [id, chop] of [['5.19', undefined], ['5.20', 'frame']] as const) {
  add(id, 'Fragmentation', `A text message in five fragments with two pings among them; the runner pauses after the first ping until its pong is back${chop ? ' (each frame in its own write)' : ''}.`,
    'Both pongs come back before the message is complete (the first while the message is still open), then the whole message.', RFC.controlInside, HINT.pong, () => {
      const frags = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
      return {
        expect: { ok: [pong('pongme 1!'), pong('pongme 2!'), text(frags.join(''))] }, close: NORMAL,
        run: async (s) => {
          await s.send({ opcode: 1, fin: false, payload: b(frags[0]!) });
          await s.send({ opcode: 0, fin: false, payload: b(frags[1]!) });
          await s.send({ opcode: 9, payload: b('pongme 1!') });
          // Autobahn waits 1 s here; the pong itself is the event that says the peer answered mid-message.
          await s.waitFor(() => s.received.length > 0 || s.closing, 'answer wait for the first pong', s.waits.answerMs);
          await s.send({ opcode: 0, fin: false, payload: b(frags[2]!) });
          await s.send({ opcode: 0, fin: false, payload: b(frags[3]!) });
          await s.send({ opcode: 9, payload: b('pongme 2!') });
          await s.send({ opcode: 0, payload: b(frags[4]!) });
        },
      };
    });
}

// ---- 6 UTF-8 -------------------------------------------------------------------------------

add('6.1.1', 'Empty text', 'Send a text message with an empty payload.', 'An empty text message comes back.', RFC.utf8Whole, HINT.echo, () => ({
  expect: { ok: [text('')] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: 1 })),
}));
add('6.1.2', 'Empty text', 'Send a text message in three empty fragments.', 'An empty text message comes back.', RFC.fragments, HINT.echo, () => ({
  expect: { ok: [text('')] }, close: NORMAL, run: async (s) => { await s.send({ opcode: 1, fin: false }); await s.send({ opcode: 0, fin: false }); await s.send({ opcode: 0 }); },
}));
add('6.1.3', 'Empty text', 'Send a text message in three fragments: empty, "middle frame payload", empty.', 'The middle fragment\'s text comes back as one message.', RFC.fragments, HINT.echo, () => ({
  expect: { ok: [text('middle frame payload')] }, close: NORMAL,
  run: async (s) => { await s.send({ opcode: 1, fin: false }); await s.send({ opcode: 0, fin: false, payload: b('middle frame payload') }); await s.send({ opcode: 0 }); },
}));
const HELLO_UTF8 = 'Hello-µ@ßöäüàá-UTF-8!!';
add('6.2.1', 'Valid UTF-8, fragmented anywhere', `Send "${HELLO_UTF8}" in one frame.`, 'The message is echoed.', RFC.utf8Whole, HINT.echo, () => ({
  expect: { ok: [text(HELLO_UTF8)] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: 1, payload: b(HELLO_UTF8) })),
}));
add('6.2.2', 'Valid UTF-8, fragmented anywhere', 'Send it in two fragments split on a code point boundary.', 'The message is echoed.', RFC.utf8Whole, HINT.echo, () => ({
  expect: { ok: [text(HELLO_UTF8)] }, close: NORMAL,
  run: async (s) => { await s.send({ opcode: 1, fin: false, payload: b('Hello-µ@ßöä') }); await s.send({ opcode: 0, payload: b('üàá-UTF-8!!') }); },
}));
for (const [id, payload] of [['6.2.3', () => b(HELLO_UTF8)], ['6.2.4', () => hex('ce ba e1 bd b9 cf 83 ce bc ce b5')]] as const) {
  add(id, 'Valid UTF-8, fragmented anywhere', 'Send a valid UTF-8 text message in fragments of one byte each, so frames end inside code points.', 'The message is echoed: a frame may hold part of a code point; only the whole message must be valid.', RFC.utf8Whole, 'Validate UTF-8 across fragments with a streaming validator (or on the whole message), never per frame.', () => ({
    expect: { ok: [text(payload())] }, close: NORMAL, run: async (s) => s.sendMessage(payload(), false, { fragmentSize: 1 }),
  }));
}
const BAD_6_3 = 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64';
add('6.3.1', 'Invalid UTF-8, fragmented anywhere', 'Send a text message that is invalid UTF-8 from byte 11 on (ED A0 80, a UTF-16 surrogate; counting from 0), in one frame.', 'The peer fails the connection (1007).', RFC.utf8, HINT.utf8, () => ({
  expect: { ok: [] }, close: FAIL_1007, run: async (s) => s.markOffendingPayload(await s.send({ opcode: 1, payload: hex(BAD_6_3) }), 11),
}));
add('6.3.2', 'Invalid UTF-8, fragmented anywhere', 'The same invalid text in fragments of one byte each.', 'The peer fails the connection (1007).', RFC.utf8, HINT.utf8, () => ({
  expect: { ok: [] }, close: FAIL_1007,
  run: async (s) => { const first = s.nextSeq; await s.sendMessage(hex(BAD_6_3), false, { fragmentSize: 1 }); s.markOffendingPayload(first + 11, 0); },
}));

const FF_PAYLOAD = 'ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64';
const NON_STRICT_FAIL_FAST = 'The peer failed the connection with 1007 only once the whole message had arrived. The RFC asks for a failure on invalid UTF-8 (§8.1) but not how soon; Autobahn prefers failing at the first invalid byte ("fail fast").';
function failFast(id: string, inFrames: boolean, splitAtByte: boolean): void {
  const parts = splitAtByte ? [12, 13] : [11, 15];
  add(id, 'Fail fast on invalid UTF-8', `Send an invalid text message (F4 90 80 80 encodes U+110000, past Unicode's end) in three ${inFrames ? 'frames' : 'pieces of one frame'}: a valid start, a pause, the piece that makes it invalid${splitAtByte ? ' (just its first bad byte)' : ''}, a pause, the rest.`,
    'The peer sits through the first pause and fails the connection (1007) right after the invalid piece (PASS), or at the latest once the message is complete (NON-STRICT).', RFC.utf8, 'Validate text incrementally as bytes arrive (a streaming UTF-8 validator) and close with 1007 as soon as a byte cannot continue any valid sequence.', () => ({
      expect: { ok: [timeout('A')], nonStrict: [timeout('A'), timeout('B')] }, close: FAIL_1007, nonStrictWhy: NON_STRICT_FAIL_FAST,
      run: async (s) => {
        const all = hex(FF_PAYLOAD);
        const [p1, p2] = parts as [number, number];
        if (inFrames) {
          // A probe ping after each piece is the checkpoint: its pong says "read it, still open".
          await s.send({ opcode: 1, fin: false, payload: all.subarray(0, p1) });
          if (!(await s.checkpoint('A', true))) return;
          s.markOffendingPayload(await s.send({ opcode: 0, fin: false, payload: all.subarray(p1, p2) }), 0);
          if (!(await s.checkpoint('B', true))) return;
          await s.send({ opcode: 0, payload: all.subarray(p2) });
        } else {
          const f = s.frameInPieces(1, all);
          await f.sendPiece(0, p1);
          if (!(await s.checkpoint('A', false))) return;
          s.markOffendingPayload(f.seq, 11);
          await f.sendPiece(p1, p2);
          if (!(await s.checkpoint('B', false))) return;
          await f.sendPiece(p2, all.length);
        }
      },
    }));
}
failFast('6.4.1', true, false);
failFast('6.4.2', true, true);
failFast('6.4.3', false, false);
failFast('6.4.4', false, true);

/** Markus Kuhn's UTF-8 decoder stress test, as Autobahn groups it (6.5-6.23). */
function utf8Vectors(): Array<[string, Array<[boolean, string]>]> {
  const k = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'];
  const vss = 'cebae1bdb9cf83cebcceb5';
  const range = (from: number, to: number, tail = ''): string => Array.from({ length: to - from }, (_, i) => (from + i).toString(16) + tail).join('');
  const valid = (h: string): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16))));
      return true;
    } catch {
      return false;
    }
  };
  const nonChars = ['efbfbe', 'efbfbf'];
  for (const z1 of ['f0', 'f1', 'f2', 'f3', 'f4']) for (const z2 of ['8f', '9f', 'af', 'bf']) {
    if (z1 === 'f4' && z2 !== '8f') continue;
    for (const z3 of ['be', 'bf']) { const zz = z1 + z2 + 'bf' + z3; if (zz !== 'f08fbfbe' && zz !== 'f08fbfbf') nonChars.push(zz); }
  }
  return [
    ['Some valid UTF-8 sequences', [[true, '68656c6c6f24776f726c64'], [true, '68656c6c6fc2a2776f726c64'], [true, '68656c6c6fe282ac776f726c64'], [true, '68656c6c6ff0a4ada2776f726c64'], [true, vss]]],
    ['All prefixes of a valid UTF-8 string with multi-byte code points', Array.from({ length: 11 }, (_, i) => vss.slice(0, 2 * (i + 1))).map((h) => [valid(h), h] as [boolean, string])],
    ['First possible sequence of a certain length', [[true, '00'], [true, 'c280'], [true, 'e0a080'], [true, 'f0908080']]],
    ['First possible sequence of length 5 and 6 (invalid code points)', [[false, 'f888808080'], [false, 'fc8480808080']]],
    ['Last possible sequence of a certain length', [[true, '7f'], [true, 'dfbf'], [true, 'efbfbf'], [true, 'f48fbfbf']]],
    ['Last possible sequence of length 4, 5 and 6 (invalid code points)', [[false, 'f7bfbfbf'], [false, 'fbbfbfbfbf'], [false, 'fdbfbfbfbfbf']]],
    ['Other boundary conditions', [[true, 'ed9fbf'], [true, 'ee8080'], [true, 'efbfbd'], [true, 'f48fbfbf'], [false, 'f4908080']]],
    ['Unexpected continuation bytes', [[false, '80'], [false, 'bf'], [false, '80bf'], [false, '80bf80'], [false, '80bf80bf'], [false, '80bf80bf80'], [false, '80bf80bf80bf'], [false, range(0x80, 0xbf)]]],
    ['Lonely start bytes', [[0xc0, 0xdf], [0xe0, 0xef], [0xf0, 0xf7], [0xf8, 0xfb], [0xfc, 0xfd]].map(([a, z]) => [false, range(a!, z!, '20')] as [boolean, string])],
    ['Sequences with the last continuation byte missing', k.map((h) => [false, h] as [boolean, string])],
    ['Concatenation of incomplete sequences', [[false, k.join('')]]],
    ['Impossible bytes', [[false, 'fe'], [false, 'ff'], [false, 'fefeffff']]],
    ['Overlong forms of an ASCII character', [[false, 'c0af'], [false, 'e080af'], [false, 'f08080af'], [false, 'f8808080af'], [false, 'fc80808080af']]],
    ['Maximum overlong sequences', [[false, 'c1bf'], [false, 'e09fbf'], [false, 'f08fbfbf'], [false, 'f887bfbfbf'], [false, 'fc83bfbfbfbf']]],
    ['Overlong forms of the NUL character', [[false, 'c080'], [false, 'e08080'], [false, 'f0808080'], [false, 'f880808080'], [false, 'fc8080808080']]],
    ['Single UTF-16 surrogates', ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((h) => [false, h] as [boolean, string])],
    ['Paired UTF-16 surrogates', ['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map((h) => [false, h] as [boolean, string])],
    ['Non-character code points (valid UTF-8)', nonChars.map((h) => [true, h] as [boolean, string])],
    ['Unicode specials (the replacement character and its neighbours)', ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map((h) => [true, h] as [boolean, string])],
  ];
}
utf8Vectors().forEach(([title, vectors], gi) => {
  vectors.forEach(([isValid, h], vi) => {
    const spaced = h.match(/../g)!.join(' ');
    if (isValid) {
      add(`6.${gi + 5}.${vi + 1}`, title, `Send a text message whose payload is valid UTF-8, in one frame: ${spaced}.`, 'The message is echoed.', RFC.utf8Whole, HINT.echo, () => ({
        expect: { ok: [text(hex(h))] }, close: NORMAL, run: async (s) => void (await s.send({ opcode: 1, payload: hex(h) })),
      }));
    } else {
      add(`6.${gi + 5}.${vi + 1}`, title, `Send a text message whose payload is not valid UTF-8, in one frame: ${spaced}.`, 'The peer fails the connection (1007).', RFC.utf8, HINT.utf8, () => ({
        expect: { ok: [] }, close: FAIL_1007, run: async (s) => s.markOffendingPayload(await s.send({ opcode: 1, payload: hex(h) }), 0),
      }));
    }
  });
});

// ---- 7 Close handling ----------------------------------------------------------------------

const CLOSE_OK: CloseExpect = { by: 'runner', codes: [1000], requireClean: true, wrongCodeFatal: true };
add('7.1.1', 'Basic close behaviour', 'Send a text message, then close with 1000 once it is echoed.', 'The echo, then a clean close with 1000.', RFC.closeReply, HINT.close, () => ({
  expect: { ok: [text('Hello World!')] }, close: CLOSE_OK, run: async (s) => void (await s.send({ opcode: 1, payload: b('Hello World!') })),
}));
add('7.1.2', 'Basic close behaviour', 'Send two close frames in a row.', 'A clean close with 1000; the second close frame is ignored.', RFC.closeReply, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => { await s.sendClose(1000); await s.send({ opcode: 8 }); },
}));
add('7.1.3', 'Basic close behaviour', 'Send a close frame, then a ping.', 'A clean close with 1000 and no pong: after a close frame, the peer answers no ping.', RFC.pong, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => { await s.sendClose(1000); await s.send({ opcode: 9 }); },
}));
add('7.1.4', 'Basic close behaviour', 'Send a close frame, then a text message.', 'A clean close with 1000; the message is ignored.', RFC.afterClose, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => { await s.sendClose(1000); await s.send({ opcode: 1, payload: b('Hello World!') }); },
}));
add('7.1.5', 'Basic close behaviour', 'Send the first fragment of a text message, a close frame, then the last fragment.', 'A clean close with 1000; the unfinished message is dropped.', RFC.afterClose, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK,
  run: async (s) => { await s.send({ opcode: 1, fin: false, payload: b('fragment1') }); await s.sendClose(1000); await s.send({ opcode: 0, payload: b('fragment2') }); },
}));
add('7.1.6', 'Basic close behaviour', 'Send a 256 KiB text message, a short text message, a close frame and a ping, back to back.', 'Up to the peer: it may echo both messages before its close frame, or close first (an asynchronous peer may not finish writing the big echo). Reported, not judged.', RFC.closeReply, HINT.close, () => ({
  expect: { ok: [text(Buffer.alloc(256 * 1024, 0x2a)), text('Hello World!')], nonStrict: [] }, close: CLOSE_OK, informational: true,
  run: async (s) => { await s.send({ opcode: 1, payload: Buffer.alloc(256 * 1024, 0x2a) }); await s.send({ opcode: 1, payload: b('Hello World!') }); await s.sendClose(1000); await s.send({ opcode: 9 }); },
}));
add('7.3.1', 'Close frame payload length', 'Send a close frame with an empty body (no code, no reason).', 'A clean close; the peer answers with an empty body or 1000.', RFC.closeBody, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => void (await s.sendClose(null)),
}));
add('7.3.2', 'Close frame payload length', 'Send a close frame with a 1-byte body ("a"): too short for a code.', 'The peer fails the connection with 1002 (or just drops TCP).', RFC.closeBody, HINT.badCode, () => ({
  expect: { ok: [] }, close: { by: 'runner', codes: [1002], requireClean: false, wrongCodeFatal: true }, run: async (s) => s.markOffendingPayload(await s.sendClose(null, '', b('a')), 0),
}));
add('7.3.3', 'Close frame payload length', 'Send a close frame with code 1000 and no reason.', 'A clean close with 1000.', RFC.closeReply, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => void (await s.sendClose(1000)),
}));
add('7.3.4', 'Close frame payload length', 'Send a close frame with code 1000 and a reason ("Hello World!").', 'A clean close with 1000.', RFC.closeReason, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => void (await s.sendClose(1000, 'Hello World!')),
}));
add('7.3.5', 'Close frame payload length', 'Send a close frame with code 1000 and a 123-byte reason: 125 bytes, the most a control frame carries.', 'A clean close with 1000.', RFC.control125, HINT.close, () => ({
  expect: { ok: [] }, close: CLOSE_OK, run: async (s) => void (await s.sendClose(1000, '*'.repeat(123))),
}));
add('7.3.6', 'Close frame payload length', 'Send a close frame with code 1000 and a 124-byte reason: a 126-byte control frame, one too many.', 'The peer fails the connection with 1002 (or drops TCP).', RFC.control125, HINT.fail1002, () => ({
  expect: { ok: [] }, close: { by: 'runner', codes: [1002], requireClean: false, wrongCodeFatal: true }, run: async (s) => s.markOffending(await s.sendClose(1000, '*'.repeat(124)), 1),
}));
add('7.5.1', 'Close frame reason', 'Send a close frame with code 1000 and a reason that is not valid UTF-8 (ED A0 80, a surrogate, at byte 11).', 'The peer fails the connection with 1002 or 1007 (or drops TCP).', RFC.closeReason, HINT.utf8, () => ({
  expect: { ok: [] }, close: { by: 'runner', codes: [1002, 1007], requireClean: false, wrongCodeFatal: true },
  run: async (s) => s.markOffendingPayload(await s.sendClose(1000, hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')), 2 + 11),
}));
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
  add(`7.7.${i + 1}`, 'Valid close codes', `Send a close frame with the valid code ${code}.`, `A clean close; the peer answers with 1000 or echoes ${code}.`, RFC.closeReply, HINT.close, () => ({
    expect: { ok: [] }, close: { by: 'runner', codes: [1000, code], requireClean: true, wrongCodeFatal: true }, run: async (s) => void (await s.sendClose(code)),
  }));
});
[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
  add(`7.9.${i + 1}`, 'Invalid close codes', `Send a close frame with the invalid code ${code}.`, 'The peer fails the connection with 1002 (or drops TCP); echoing the code back is wrong.', RFC.codes, HINT.badCode, () => ({
    expect: { ok: [] }, close: { by: 'runner', codes: [1002], requireClean: false, wrongCodeFatal: true }, run: async (s) => s.markOffendingPayload(await s.sendClose(code), 0),
  }));
});
[5000, 65535].forEach((code, i) => {
  add(`7.13.${i + 1}`, 'Close codes the RFC leaves open', `Send a close frame with code ${code}, above every registered range.`, 'Undefined by the RFC: reported, not judged.', RFC.codes, HINT.badCode, () => ({
    expect: { ok: [] }, close: { by: 'runner', codes: [1000, code, 1002], requireClean: false }, informational: true, run: async (s) => void (await s.sendClose(code)),
  }));
});

// ---- 9 Limits and performance --------------------------------------------------------------
// Sized for a 2-core machine shared with other work (Autobahn's in brackets): single messages
// up to 8 MiB (16 MiB), 1 MiB in fragments (4 MiB), 256 KiB in TCP pieces (1 MiB), 250 round
// trips (1000). The numbers in each description are ours.

const KiB = 1024;
const MiB = 1024 * 1024;
const human = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} bytes`);

function echoJudge(expectLen: number, isBinary: boolean, count = 1) {
  return (s: Session): OwnJudgement => {
    const msgs = s.received.filter((r) => r.kind === 'message') as Array<Extract<Item, { kind: 'message' }>>;
    const fill = isBinary ? 0xfe : 0x2a;
    const intact = (d: Buffer): boolean => d.length === expectLen && d.every((x) => x === fill);
    const good = msgs.filter((m) => m.binary === isBinary && intact(m.data)).length;
    if (good >= count) return { behavior: 'OK', observed: `${count} ${isBinary ? 'binary' : 'text'} message${count > 1 ? 's' : ''} of ${human(expectLen)} echoed` };
    const first = msgs.find((m) => m.binary !== isBinary || !intact(m.data));
    return { behavior: 'FAILED', observed: first ? `got a ${first.binary ? 'binary' : 'text'} message of ${first.data.length} bytes that is not the ${isBinary ? 'binary' : 'text'} message of ${expectLen} bytes sent` : `${good} of ${count} echoes came back` };
  };
}
function bigEcho(id: string, title: string, n: number, isBinary: boolean, how: { fragment?: number; chop?: number }): void {
  const kind = isBinary ? 'binary' : 'text';
  const desc = how.fragment ? `Send a ${kind} message of ${human(n)} in fragments of ${human(how.fragment)}.` : how.chop ? `Send a ${kind} message of ${human(n)} in one frame, written to TCP in pieces of ${how.chop} bytes.` : `Send a ${kind} message of ${human(n)}.`;
  add(id, title, desc, `The ${kind} message comes back whole (${human(n)}).`, RFC.limits, HINT.limits, () => ({
    expect: { ok: [] }, close: NORMAL, long: true, judge: echoJudge(n, isBinary),
    run: async (s) => {
      const data = Buffer.alloc(n, isBinary ? 0xfe : 0x2a);
      if (how.fragment) await s.sendMessage(data, isBinary, { fragmentSize: how.fragment });
      else await s.send({ opcode: isBinary ? 2 : 1, payload: data }, { chop: how.chop });
      await s.waitFor(() => s.received.length > 0 || s.closing, 'answer wait for the echo', s.waits.answerMs);
    },
  }));
}
[64 * KiB, 256 * KiB, 1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB].forEach((n, i) => {
  bigEcho(`9.1.${i + 1}`, 'Text message (increasing size)', n, false, {});
  bigEcho(`9.2.${i + 1}`, 'Binary message (increasing size)', n, true, {});
});
[64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 512 * KiB, 1 * MiB].forEach((f, i) => {
  bigEcho(`9.3.${i + 1}`, 'Fragmented text message (1 MiB, growing fragments)', 1 * MiB, false, { fragment: f });
  bigEcho(`9.4.${i + 1}`, 'Fragmented binary message (1 MiB, growing fragments)', 1 * MiB, true, { fragment: f });
});
[64, 128, 256, 512, 1024, 2048].forEach((c, i) => {
  bigEcho(`9.5.${i + 1}`, 'Text message (256 KiB, growing TCP pieces)', 256 * KiB, false, { chop: c });
  bigEcho(`9.6.${i + 1}`, 'Binary message (256 KiB, growing TCP pieces)', 256 * KiB, true, { chop: c });
});
[0, 16, 64, 256, 1024, 4096].forEach((n, i) => {
  for (const [sub, isBinary] of [[7, false], [8, true]] as const) {
    const count = 250;
    add(`9.${sub}.${i + 1}`, `${isBinary ? 'Binary' : 'Text'} message round trips`, `Send ${count} ${isBinary ? 'binary' : 'text'} messages of ${human(n)}, each after the echo of the one before.`, `All ${count} echoes come back; the case reports the time per round trip.`, RFC.limits, HINT.limits, () => {
      let rtt = 0;
      return {
        expect: { ok: [] }, close: NORMAL, long: true,
        judge: (s) => {
          const j = echoJudge(n, isBinary, count)(s);
          return j.behavior === 'OK' ? { ...j, observed: `${j.observed}, ${(rtt / count).toFixed(2)} ms per round trip` } : j;
        },
        run: async (s) => {
          const data = Buffer.alloc(n, isBinary ? 0xfe : 0x2a);
          const t0 = performance.now();
          for (let k = 1; k <= count; k++) {
            await s.send({ opcode: isBinary ? 2 : 1, payload: data });
            const r = await s.waitFor(() => s.received.length >= k || s.closing, 'answer wait for an echo', s.waits.answerMs);
            if (r !== 'met' || s.closing) break;
          }
          rtt = performance.now() - t0;
        },
      };
    });
  }
});

// ---- lookups -------------------------------------------------------------------------------

function compareIds(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
CASE_LIST.push(...DEFLATE_CASES);
CASE_LIST.sort((a, b) => compareIds(a.id, b.id));

export const CASE_SCRIPTS: readonly Case[] = CASE_LIST;

/** The cases as the dashboard and reports describe them (no scripts). */
export const CASES: CaseDef[] = CASE_LIST.map(({ script: _script, ...def }) => def);

export function caseById(id: string): Case | undefined {
  return CASE_LIST.find((c) => c.id === id);
}
