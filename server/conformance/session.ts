/**
 * One case's connection after the handshake: the runner's side of it, in either role (client
 * when it tests a server, server when it tests a client). It writes whatever frames a case asks
 * for, even illegal ones, records what the peer sends back (Autobahn's "received" list), and
 * closes the way Autobahn's fuzzer does. Every wait ends on an event (a frame, a close, TCP
 * end); the named waits below are the only clocks, and only a silent peer ever reaches them.
 */
import type { Socket } from 'node:net';
import zlib from 'node:zlib';
import { isValidCloseCodeOnWire } from '../protocol/close-codes.ts';
import { closeBody, encodeFrame, FrameReader, type InFrame, type OutFrame } from './wire.ts';

export type Role = 'client' | 'server';

/** What the peer sent, as Autobahn records it; `timeout` marks a checkpoint the peer sat through. */
export type Item =
  | { kind: 'message'; binary: boolean; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'timeout'; tag: string };

/**
 * The named waits. Each is a silence: it starts again whenever a byte arrives, so a slow but
 * talking peer is never cut; a peer that says nothing at all is given this long.
 */
export interface Waits {
  /** For an answer the case expects (an echo, a pong) or for the peer to fail the connection. */
  answerMs: number;
  /** For the peer's close frame and its end of TCP once the close handshake has begun. */
  closeMs: number;
  /** Fail-fast checkpoints inside one frame (6.4.3, 6.4.4), where no ping can be slipped in. */
  failFastMs: number;
  /** Last resort for a whole case (group 9 gets ten times this). */
  caseMs: number;
}

export const DEFAULT_WAITS: Waits = { answerMs: 4000, closeMs: 4000, failFastMs: 1000, caseMs: 60_000 };

/** Payloads of the runner's own pings, told apart from the case's: never part of "received". */
export const PROBE_PREFIX = 'wsplay-probe-';

/** Items kept per case (see Session.record). */
const MAX_ITEMS = 2000;

/** permessage-deflate as negotiated in the handshake (RFC 7692 §7). */
export interface Deflate {
  /** Window bits the runner may use when it compresses (the RFC's own max, or what was agreed). */
  myMaxWindowBits: number;
  /** Window the peer agreed to compress within: its messages are inflated with no larger one. */
  peerMaxWindowBits: number;
  /** The peer agreed to start each message afresh: each is inflated with a fresh inflater. */
  peerNoContextTakeover: boolean;
  /** The agreed extension as the handshake wrote it, for the report. */
  agreed: string;
}

export interface SendOptions {
  /** Write the frame's bytes in pieces of this many bytes (Autobahn's chopsize). */
  chop?: number;
}

type Wake = (why: 'bytes' | 'event') => void;

export class Session {
  readonly received: Item[] = [];
  /** The peer's close frame: code null when its body was empty. */
  peerClose: { code: number | null; reason: Buffer } | null = null;
  myClose: { code: number | null } | null = null;
  firstClose: 'me' | 'peer' | null = null;
  firstDrop: 'me' | 'peer' | null = null;
  peerEnded = false;
  gone = false;
  cutByTimeout = false;
  probesAnswered = 0;
  /** Things the peer did that the RFC forbids, one sentence each (bounded). */
  readonly peerViolations: string[] = [];
  /** Named waits that ran out, in order ("answer wait 4 s after 2.1's ping"). */
  readonly waitsExpired: string[] = [];
  /** The `seq` of the next frame the runner sends (FrameEvent.seq of the wiretap). */
  nextSeq = 0;
  offending: { frameSeq?: number; byteOffset?: number } | undefined;
  bytesIn = 0;
  bytesOut = 0;

  private readonly reader: FrameReader;
  private readonly wakers = new Set<Wake>();
  private chain: Promise<void> = Promise.resolve();
  private fragments: { opcode: number; compressed: boolean; parts: Buffer[]; size: number } | null = null;
  private probeCount = 0;
  private inflater: zlib.InflateRaw | null = null;

  constructor(
    readonly socket: Socket,
    readonly role: Role,
    readonly waits: Waits,
    readonly deflate: Deflate | null,
    leftover: Buffer,
    private readonly maxMessage = 16 * 1024 * 1024,
  ) {
    socket.setNoDelay(true);
    this.reader = new FrameReader(maxMessage);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => {
      this.peerEnded = true;
      this.firstDrop ??= 'peer';
      // The runner ends its half too (§7.1.1: once the peer closed TCP, the connection is over).
      socket.end();
      this.wake('event');
    });
    socket.on('error', () => {
      /* ECONNRESET / EPIPE when the peer fails the connection while we write: expected here. */
    });
    socket.on('close', () => {
      this.gone = true;
      this.firstDrop ??= 'peer';
      this.wake('event');
    });
    if (leftover.length) this.onData(leftover);
  }

  get peerRole(): Role {
    return this.role === 'client' ? 'server' : 'client';
  }

  // ---- sending ------------------------------------------------------------------------------

  private write(b: Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    this.bytesOut += b.length;
    return new Promise((resolve) => this.socket.write(b, () => resolve()));
  }

  /** Sends one frame exactly as described (legal or not); returns its seq. */
  async send(f: OutFrame, opts: SendOptions = {}): Promise<number> {
    const bytes = encodeFrame(f, this.role === 'client');
    const seq = this.nextSeq++;
    this.noteHeader(seq, bytes.length - (f.payload?.length ?? 0));
    if (opts.chop && opts.chop < bytes.length) {
      for (let i = 0; i < bytes.length; i += opts.chop) await this.write(bytes.subarray(i, i + opts.chop));
    } else {
      await this.write(bytes);
    }
    return seq;
  }

  /**
   * One frame written in pieces with pauses between (6.4.3, 6.4.4): `sendPiece(from, to)` writes
   * payload bytes [from, to), the header along with the first piece.
   */
  frameInPieces(opcode: number, payload: Buffer): { seq: number; sendPiece: (from: number, to: number) => Promise<void> } {
    const bytes = encodeFrame({ opcode, payload }, this.role === 'client');
    const header = bytes.length - payload.length;
    const seq = this.nextSeq++;
    this.noteHeader(seq, header);
    return {
      seq,
      sendPiece: (from, to) => this.write(bytes.subarray(from === 0 ? 0 : header + from, header + to)),
    };
  }

  /** A whole message: compressed when `compress` (RFC 7692 §7.2.1), fragmented when asked. */
  async sendMessage(data: Buffer, binary: boolean, opts: { fragmentSize?: number; compress?: boolean; chop?: number } = {}): Promise<void> {
    let payload = data;
    const compress = !!(opts.compress && this.deflate);
    if (compress) {
      // A fresh deflate stream per message: always valid for the receiver, whatever context
      // takeover was agreed (the runner simply never refers back to earlier messages).
      const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: Math.max(9, this.deflate!.myMaxWindowBits) });
      payload = out.subarray(0, out.length - 4);
    }
    const size = opts.fragmentSize && opts.fragmentSize > 0 ? opts.fragmentSize : payload.length || 1;
    let first = true;
    for (let i = 0; i < payload.length || first; i += size) {
      const piece = payload.subarray(i, i + size);
      const fin = i + size >= payload.length;
      await this.send({ opcode: first ? (binary ? 2 : 1) : 0, fin, rsv: first && compress ? 4 : 0, payload: piece }, { chop: opts.chop });
      first = false;
    }
  }

  /** A close frame; `raw` sends the body as given (bad codes, 1-byte bodies, long reasons). */
  async sendClose(code?: number | null, reason: Buffer | string = '', raw?: Buffer): Promise<number> {
    if (!this.myClose) this.myClose = { code: code ?? null };
    this.firstClose ??= 'me';
    return this.send({ opcode: 8, payload: raw ?? closeBody(code, reason) });
  }

  /**
   * The runner's own ping, a barrier: the peer reads frames in order, so its pong proves that
   * everything sent before was read and did not make it fail the connection.
   */
  async probe(): Promise<number> {
    const before = this.probesAnswered;
    await this.send({ opcode: 9, payload: Buffer.from(`${PROBE_PREFIX}${++this.probeCount}`) });
    return before;
  }

  /** Header lengths of the latest frames sent, so an offset in a payload becomes one in the frame. */
  private readonly headers = new Map<number, number>();
  private noteHeader(seq: number, length: number): void {
    this.headers.set(seq, length);
    if (this.headers.size > 64) this.headers.delete(this.headers.keys().next().value!);
  }

  /** The frame a case is about, and the byte in it (counted from the frame's first byte). */
  markOffending(frameSeq: number, byteOffset?: number): void {
    this.offending = byteOffset === undefined ? { frameSeq } : { frameSeq, byteOffset };
  }

  /** The same, with the offset counted in the frame's payload (e.g. the first invalid UTF-8 byte). */
  markOffendingPayload(frameSeq: number, payloadOffset: number): void {
    const header = this.headers.get(frameSeq);
    this.markOffending(frameSeq, header === undefined ? undefined : header + payloadOffset);
  }

  // ---- waiting ------------------------------------------------------------------------------

  private wake(why: 'bytes' | 'event'): void {
    for (const w of [...this.wakers]) w(why);
  }

  get closing(): boolean {
    return this.peerClose !== null || this.peerEnded || this.gone;
  }

  /**
   * Resolves 'met' when `pred` holds, 'gone' when the connection is over first, 'timeout' when
   * the peer stays silent for `ms` (the named wait `name`, recorded in `waitsExpired`).
   */
  waitFor(pred: () => boolean, name: string, ms: number, silence = true): Promise<'met' | 'timeout' | 'gone'> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (r: 'met' | 'timeout' | 'gone'): void => {
        clearTimeout(timer);
        this.wakers.delete(waker);
        if (r === 'timeout') this.waitsExpired.push(`${name} (${ms / 1000} s of silence)`);
        resolve(r);
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => done('timeout'), ms);
      };
      const waker: Wake = (why) => {
        if (pred()) return done('met');
        if (this.gone) return done('gone');
        if (why === 'bytes' && silence) arm();
      };
      this.wakers.add(waker);
      arm();
      waker('event');
    });
  }

  /** Waits until every frame that has arrived so far is processed (inflation is async). */
  settled(): Promise<void> {
    return this.chain;
  }

  /**
   * Checkpoint: did the peer sit through what was sent so far without failing the connection?
   * A probe ping answers that on an event; a peer that answers no pings gets the named wait.
   */
  async checkpoint(tag: string, usePing: boolean): Promise<boolean> {
    if (usePing) {
      const before = await this.probe();
      const r = await this.waitFor(() => this.probesAnswered > before || this.closing, `checkpoint ${tag}`, this.waits.answerMs);
      if (r === 'met' && !this.closing) {
        this.received.push({ kind: 'timeout', tag });
        return true;
      }
      if (r === 'timeout' && !this.closing) {
        this.received.push({ kind: 'timeout', tag });
        return true;
      }
      return false;
    }
    const r = await this.waitFor(() => this.closing, `fail-fast wait ${tag}`, this.waits.failFastMs, false);
    if (r === 'timeout') {
      // This wait is expected to run out (the peer should stay quiet); not a sign of trouble.
      this.waitsExpired.pop();
      this.received.push({ kind: 'timeout', tag });
      return true;
    }
    return false;
  }

  // ---- closing ------------------------------------------------------------------------------

  /**
   * Autobahn's end of a case: answer the peer's close frame with one of ours, then give the
   * peer the close wait to end TCP (§7.1.1: the server closes TCP first); end it ourselves after.
   */
  async finish(): Promise<void> {
    await this.settled();
    if (this.peerClose && !this.myClose && !this.socket.writableEnded) {
      const c = this.peerClose.code;
      // Echo the code (§5.5.1 "typically echos the status code it received"), unless the
      // peer's code is one that must not be sent: answering a bad code with it would be ours.
      await this.sendClose(c === null ? null : isValidCloseCodeOnWire(c) ? c : 1002);
    }
    if (this.myClose && !this.peerClose && !this.peerEnded) {
      await this.waitFor(() => this.peerClose !== null || this.peerEnded, 'close wait for the peer\'s close frame', this.waits.closeMs);
    }
    await this.settled();
    if (this.peerClose && !this.myClose && !this.socket.writableEnded) await this.sendClose(this.peerClose.code === null ? null : 1000);
    if (!this.peerEnded && !this.gone) {
      // The server ends TCP first (§7.1.1); as the server, the runner does so itself now.
      if (this.role === 'server' && this.peerClose && this.myClose) this.drop();
      else await this.waitFor(() => this.peerEnded, 'close wait for the peer to end TCP', this.waits.closeMs);
    }
    if (!this.gone) this.drop();
    await this.waitFor(() => this.gone, 'socket close', this.waits.closeMs, false);
  }

  drop(): void {
    this.firstDrop ??= 'me';
    this.socket.end();
    this.socket.destroy();
  }

  cut(): void {
    this.cutByTimeout = true;
    this.firstDrop ??= 'me';
    this.socket.destroy();
  }

  // ---- receiving ----------------------------------------------------------------------------

  /**
   * What the peer sent, kept for the judgement. Bounded: a case expects at most a few hundred
   * items (9.7 counts 250 echoes), so a peer that floods is cut, not buffered.
   */
  private record(item: Item): void {
    if (this.received.length >= MAX_ITEMS) {
      this.violation(`sent more than ${MAX_ITEMS} frames in one case; the runner cut the connection`);
      this.drop();
      return;
    }
    this.received.push(item);
  }

  private violation(s: string): void {
    if (this.peerViolations.length < 20 && !this.peerViolations.includes(s)) this.peerViolations.push(s);
  }

  private onData(d: Buffer): void {
    this.bytesIn += d.length;
    for (const f of this.reader.push(d)) this.chain = this.chain.then(() => this.onFrame(f)).catch(() => undefined);
    if (this.reader.broken) {
      this.violation(`sent ${this.reader.broken}`);
      this.drop();
    }
    this.wake('bytes');
  }

  private async onFrame(f: InFrame): Promise<void> {
    const peer = this.peerRole;
    if (peer === 'server' && f.masked) this.violation('masked a frame: a server MUST NOT mask frames it sends (§5.1)');
    if (peer === 'client' && !f.masked) this.violation('sent an unmasked frame: a client MUST mask every frame it sends (§5.1)');
    if (this.peerClose) {
      this.violation('sent a frame after its close frame: after sending a Close frame, an endpoint MUST NOT send any more data frames (§5.5.1)');
      return;
    }
    const compressedBit = (f.rsv & 4) !== 0;
    if ((f.rsv & 3) !== 0 || (compressedBit && (!this.deflate || f.opcode === 0 || f.opcode >= 8))) {
      this.violation(`set reserved bits (RSV ${f.rsv}) no extension gives a meaning to (§5.2)`);
    }
    switch (f.opcode) {
      case 9:
        this.record({ kind: 'ping', data: f.payload });
        if (!this.myClose) await this.send({ opcode: 10, payload: f.payload });
        break;
      case 10:
        if (f.payload.toString('latin1').startsWith(PROBE_PREFIX)) this.probesAnswered++;
        else this.record({ kind: 'pong', data: f.payload });
        break;
      case 8: {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
        if (f.payload.length === 1) this.violation('sent a close frame with a 1-byte body: the body is empty or starts with a 2-byte code (§5.5.1)');
        this.peerClose = { code, reason: f.payload.subarray(2) };
        this.firstClose ??= 'peer';
        break;
      }
      case 1:
      case 2:
      case 0:
        await this.onDataFrame(f, compressedBit);
        break;
      default:
        this.violation(`sent a frame with reserved opcode 0x${f.opcode.toString(16)} (§5.2)`);
    }
    this.wake('event');
  }

  private async onDataFrame(f: InFrame, compressedBit: boolean): Promise<void> {
    if (f.opcode !== 0) {
      if (this.fragments) this.violation('started a new message inside a fragmented one (§5.4)');
      this.fragments = { opcode: f.opcode, compressed: compressedBit && !!this.deflate, parts: [], size: 0 };
    } else if (!this.fragments) {
      this.violation('sent a continuation frame with no message to continue (§5.4)');
      return;
    }
    const m = this.fragments;
    m.size += f.payload.length;
    if (m.size > this.maxMessage) {
      this.violation(`sent a message over ${this.maxMessage} bytes, more than the runner keeps`);
      this.fragments = null;
      this.drop();
      return;
    }
    m.parts.push(f.payload);
    if (!f.fin) return;
    this.fragments = null;
    let data: Buffer = Buffer.concat(m.parts);
    if (m.compressed) {
      try {
        data = await this.inflate(data);
      } catch (e) {
        this.violation(`sent a compressed message that does not inflate: ${(e as Error).message}`);
        return;
      }
    }
    this.record({ kind: 'message', binary: m.opcode === 2, data });
  }

  private inflate(data: Buffer): Promise<Buffer> {
    // Inflating with the agreed window and, without context takeover, a fresh inflater per
    // message: a peer that breaks what it agreed to produces data that does not inflate.
    if (this.deflate!.peerNoContextTakeover) {
      this.inflater?.close();
      this.inflater = null;
    }
    this.inflater ??= zlib.createInflateRaw({ windowBits: Math.min(15, Math.max(8, this.deflate!.peerMaxWindowBits)) });
    const inf = this.inflater;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const onData = (c: Buffer): void => {
        total += c.length;
        if (total <= this.maxMessage) chunks.push(c);
      };
      const onError = (e: Error): void => {
        inf.off('data', onData);
        this.inflater = null;
        reject(e);
      };
      inf.on('data', onData);
      inf.once('error', onError);
      inf.write(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]));
      inf.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        inf.off('data', onData);
        inf.off('error', onError);
        if (total > this.maxMessage) reject(new Error(`inflates to more than ${this.maxMessage} bytes`));
        else resolve(Buffer.concat(chunks));
      });
    });
  }
}
