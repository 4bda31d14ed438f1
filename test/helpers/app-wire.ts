/**
 * Real bytes for the application-protocol decoders' tests: a Wiretap (on port 0) in front of a
 * real server, real clients through it, and the messages the wiretap reassembled handed to a
 * decoder as the decoding stage hands them (server/protocol/app/decoder.ts). Nothing here is
 * typed by hand: what a test decodes is what the libraries put on the wire.
 */
import type { MessageEvent } from '../../server/capture/events.ts';
import { materialize } from '../../server/capture/materialize.ts';
import { appOf, type AppDecoder, type AppMessage, type AppResult } from '../../server/protocol/app/decoder.ts';
import { WebSocket, type RawData } from 'ws';
import { until, type Client, type TapHandle } from './net.ts';

/** One message event as the decoder's input. */
export function toAppMessage(e: MessageEvent): AppMessage {
  materialize(e);
  const data = e.text !== undefined ? Buffer.from(e.text, 'utf8') : Buffer.from(e.base64 ?? '', 'base64');
  return {
    dir: e.dir,
    opcode: e.opcode,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    truncated: e.truncated === true,
    length: e.length,
    ref: { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame },
    t: e.t,
  };
}

export interface Decoded {
  msg: AppMessage;
  result: AppResult;
}

/**
 * A decoder's result for `m` with its `app` made, as the wiretap makes it when the event is read
 * (a result may leave a maker instead: server/protocol/app/decoder.ts, AppResult).
 */
export function decodeMade(decoder: AppDecoder, m: AppMessage): AppResult {
  const r = decoder.message(m);
  const app = appOf(r, m);
  const out: AppResult = {};
  if (app !== undefined) out.app = app;
  if (r.violations) out.violations = r.violations;
  return out;
}

/** Every message of a connection, in the order the wiretap saw them, through one decoder. */
export function decodeConnection(tap: TapHandle, conn: number, decoder: AppDecoder): Decoded[] {
  return tap.of(conn, 'message').map((e) => {
    const msg = toAppMessage(e);
    return { msg, result: decodeMade(decoder, msg) };
  });
}

/**
 * Every message of a connection as the wiretap's own decoding stage reported it: the `app` it
 * set on the message event, and the `appViolation` events that point at the message.
 */
export function decodedByTap(tap: TapHandle, conn: number): Decoded[] {
  const violations = tap.of(conn, 'appViolation');
  return tap.of(conn, 'message').map((e) => {
    const msg = toAppMessage(e);
    const broken = violations.filter((v) => v.at?.dir === e.dir && v.at.firstFrame === e.firstFrame).map(({ rule, section, message }) => ({ rule, section, message }));
    const result: AppResult = {};
    if (e.app !== undefined) result.app = e.app;
    if (broken.length > 0) result.violations = broken;
    return { msg, result };
  });
}

/** The text a decoded message carried (for messages in failure output). */
export function textOf(d: Decoded): string {
  return Buffer.from(d.msg.data).toString('utf8');
}

/** A plain `ws` client offering one subprotocol, its messages queued (like net.ts's `connect`). */
export function connectWithSubprotocol(url: string, protocol: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol);
    const messages: string[] = [];
    let taken = 0;
    ws.on('message', (data: RawData) => messages.push(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8')));
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString('utf8') })));
    ws.on('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next: (timeoutMs = 5000) =>
          until(() => (messages.length > taken ? messages[taken++] : undefined), timeoutMs, () => `message #${taken + 1} (have ${messages.length}: ${JSON.stringify(messages)})`),
      }),
    );
  });
}
