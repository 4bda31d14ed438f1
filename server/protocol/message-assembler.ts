import type { Direction, MessageEvent, ViolationEvent, ViolationRule, WireEvent } from '../capture/events.ts';
import { explainCloseCode, isValidCloseCodeOnWire } from './close-codes.ts';
import { MessageInflater } from './deflate.ts';
import type { FrameHeader, FrameSink } from './frame-decoder.ts';
import { isControl, isReserved, Opcode } from './opcodes.ts';
import { RULES } from './violations.ts';
import { incompleteTail, Utf8Validator } from './utf8.ts';

export interface DecoderLimits {
  /** Bytes of each frame's and message's payload kept for showing; the length is always exact. */
  previewBytes: number;
  /** Compressed bytes gathered for one message before it is given up on. */
  maxCompressedMessage: number;
  /** Inflated bytes one message may produce before inflation stops. */
  maxInflatedMessage: number;
  /** Bytes of an HTTP head read before it is called too large. */
  maxHandshakeBytes: number;
  /** Client bytes held while waiting for the server's answer to the upgrade. */
  maxPendingBytes: number;
}

export const DEFAULT_LIMITS: DecoderLimits = {
  previewBytes: 64 * 1024,
  maxCompressedMessage: 16 * 1024 * 1024,
  maxInflatedMessage: 16 * 1024 * 1024,
  maxHandshakeBytes: 16 * 1024,
  maxPendingBytes: 1024 * 1024,
};

/** Keeps the first `cap` bytes of a stream of pieces and counts the rest. */
class Preview {
  private parts: Buffer[] = [];
  kept = 0;
  total = 0;
  constructor(private readonly cap: number) {}

  push(data: Buffer): void {
    this.total += data.length;
    if (this.kept >= this.cap) return;
    const take = Math.min(this.cap - this.kept, data.length);
    // Copy: `data` may be a view of a socket chunk that must not be kept alive.
    this.parts.push(Buffer.from(data.subarray(0, take)));
    this.kept += take;
  }

  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }
}

interface MessageState {
  opcode: 1 | 2;
  compressed: boolean;
  t: number;
  frames: number;
  firstFrame: number;
  lastFrame: number;
  length: number;
  preview: Preview;
  utf8: Utf8Validator | null;
  /** Compressed messages: the payload gathered for inflation, null once over the bound. */
  gathered: Buffer[] | null;
  gatheredBytes: number;
  utf8Reported: boolean;
}

interface FrameState {
  header: FrameHeader;
  preview: Preview;
  /** Violations found while the frame arrived; emitted right after the frame event. */
  violations: ViolationEvent[];
  /** Part of the current message (data frame or continuation that continues one). */
  inMessage: boolean;
}

/**
 * Turns one direction's frames into events: a `frame` event per frame, `message` events with
 * fragments joined (and inflated), `ping`/`pong`/`close` events, and a `violation` event for
 * every rule broken. Receives frames from a FrameDecoder; pushes events onto `out`.
 */
export class MessageAssembler implements FrameSink {
  private message: MessageState | null = null;
  private frame: FrameState | null = null;
  private inflater: MessageInflater | null = null;
  private closeSeen = false;
  /** The close frame's code, or null while none has been seen. */
  closeCode: number | null = null;
  frames = 0;

  constructor(
    private readonly conn: number,
    private readonly dir: Direction,
    private readonly out: WireEvent[],
    private readonly limits: DecoderLimits,
    /** Time of the 101 response; frames from the client before it broke §4.1. */
    private readonly handshakeDoneAt: number = -Infinity,
  ) {}

  /** permessage-deflate was negotiated: inflate RSV1 messages with these parameters. */
  enableDeflate(windowBits: number, noContextTakeover: boolean): void {
    this.inflater = new MessageInflater(windowBits, noContextTakeover, this.limits.maxInflatedMessage);
  }

  frameHeader(h: FrameHeader): void {
    this.frames++;
    const fs: FrameState = { header: h, preview: new Preview(this.limits.previewBytes), violations: [], inMessage: false };
    this.frame = fs;
    if (this.closeSeen) this.flag('frame-after-close', h.t, h.offset, `Frame ${h.seq} came after this side's close frame.`);
    if (this.dir === 'client' && h.t < this.handshakeDoneAt && h.seq === 0) {
      this.flag('data-before-handshake', h.t, h.offset);
    }
    if (isControl(h.opcode) || isReserved(h.opcode)) return;
    if (h.opcode === Opcode.Continuation) {
      if (!this.message) {
        this.flag('unexpected-continuation', h.t, h.offset);
        return;
      }
    } else {
      if (this.message) {
        this.flag('data-frame-mid-message', h.t, h.offset, `A ${h.opcode === 1 ? 'text' : 'binary'} frame started while message from frame ${this.message.firstFrame} was still unfinished.`);
      }
      const compressed = h.rsv1 && this.inflater !== null;
      this.message = {
        opcode: h.opcode as 1 | 2,
        compressed,
        t: h.t,
        frames: 0,
        firstFrame: h.seq,
        lastFrame: h.seq,
        length: 0,
        preview: new Preview(this.limits.previewBytes),
        utf8: h.opcode === Opcode.Text && !compressed ? new Utf8Validator() : null,
        gathered: compressed ? [] : null,
        gatheredBytes: 0,
        utf8Reported: false,
      };
    }
    const m = this.message!;
    m.frames++;
    m.lastFrame = h.seq;
    fs.inMessage = true;
  }

  framePayload(h: FrameHeader, data: Buffer, payloadOffset: number): void {
    const fs = this.frame!;
    fs.preview.push(data);
    if (!fs.inMessage) return;
    const m = this.message!;
    m.length += data.length;
    if (m.compressed) {
      if (m.gathered) {
        m.gatheredBytes += data.length;
        if (m.gatheredBytes > this.limits.maxCompressedMessage) {
          m.gathered = null;
          this.inflater!.loseHistory(`a compressed message passed the ${this.limits.maxCompressedMessage}-byte bound`);
        } else {
          m.gathered.push(Buffer.from(data));
        }
      }
      return;
    }
    m.preview.push(data);
    if (m.utf8 && !m.utf8.push(data) && !m.utf8Reported) {
      m.utf8Reported = true;
      // Point at the bad sequence's first byte; one begun in an earlier fragment is reported at
      // the start of this frame's payload, where it became invalid.
      const frameStart = m.length - data.length - payloadOffset;
      const inFrame = Math.max(0, m.utf8.errorIndex - frameStart);
      this.flag('invalid-utf8', h.t, h.offset + h.header.length + inFrame, `The text is not valid UTF-8 at byte ${m.utf8.errorIndex} of the message.`);
    }
  }

  frameEnd(h: FrameHeader, tEnd: number, complete: boolean): void {
    const fs = this.frame!;
    this.frame = null;
    const payload = fs.preview.bytes();
    this.out.push({
      type: 'frame',
      conn: this.conn,
      t: h.t,
      dir: this.dir,
      fin: h.fin,
      rsv1: h.rsv1,
      rsv2: h.rsv2,
      rsv3: h.rsv3,
      opcode: h.opcode,
      masked: h.masked,
      maskKey: h.maskKey ? h.maskKey.toString('hex') : null,
      length: h.length,
      ...(h.lengthExact !== undefined ? { lengthExact: h.lengthExact } : {}),
      lengthEncoding: h.lengthEncoding,
      payload: payload.toString('base64'),
      ...(fs.preview.truncated ? { truncated: true } : {}),
      ...(complete ? {} : { complete: false }),
      offset: h.offset,
      header: h.header.toString('hex'),
      headerLength: h.header.length,
      tEnd,
      seq: h.seq,
    });
    for (const v of fs.violations) this.out.push(v);
    if (!complete) return;

    if (h.opcode === Opcode.Close) this.close(h, payload, tEnd);
    else if (h.opcode === Opcode.Ping || h.opcode === Opcode.Pong) {
      this.out.push({
        type: h.opcode === Opcode.Ping ? 'ping' : 'pong',
        conn: this.conn,
        t: h.t,
        dir: this.dir,
        payload: payload.toString('base64'),
        frame: h.seq,
      });
    } else if (fs.inMessage && h.fin) {
      this.finishMessage(h, tEnd);
    }
  }

  violation(rule: ViolationRule, h: FrameHeader, offset: number, message?: string): void {
    this.flag(rule, h.t, offset, message);
  }

  private flag(rule: ViolationRule, t: number, offset: number, message?: string): void {
    const v = this.makeViolation(rule, t, offset, message);
    if (this.frame) {
      v.frame = this.frame.header.seq;
      this.frame.violations.push(v);
    } else {
      this.out.push(v);
    }
  }

  private makeViolation(rule: ViolationRule, t: number, offset: number, message?: string, frame?: number): ViolationEvent {
    const info = RULES[rule];
    const v: ViolationEvent = {
      type: 'violation',
      conn: this.conn,
      t,
      dir: this.dir,
      rule,
      section: info.section,
      closeCode: info.closeCode,
      message: message ? `${info.text} ${message}` : info.text,
      offset,
    };
    if (frame !== undefined) v.frame = frame;
    return v;
  }

  private finishMessage(h: FrameHeader, tEnd: number): void {
    const m = this.message!;
    this.message = null;
    let bytes: Buffer;
    let length = m.length;
    let truncated = m.preview.truncated;
    let inflateError: string | undefined;
    let utf8Valid = true;
    const after: ViolationEvent[] = [];
    if (m.compressed) {
      if (m.gathered === null) {
        inflateError = `not inflated: the compressed message passed the ${this.limits.maxCompressedMessage}-byte bound`;
        bytes = Buffer.alloc(0);
      } else {
        const r = this.inflater!.inflate(Buffer.concat(m.gathered));
        if ('error' in r) {
          inflateError = r.error;
          bytes = Buffer.alloc(0);
          if (r.error.startsWith('corrupt')) {
            after.push(this.makeViolation('invalid-compressed-data', tEnd, h.offset, r.error, h.seq));
          }
        } else {
          if (r.warning) after.push(this.makeViolation('invalid-compressed-data', tEnd, h.offset, `The message inflated, but ${r.warning}.`, h.seq));
          length = r.data.length;
          bytes = r.data.subarray(0, this.limits.previewBytes);
          truncated = r.data.length > bytes.length;
          if (m.opcode === Opcode.Text) {
            const v = new Utf8Validator();
            utf8Valid = v.push(r.data) && v.finish();
            if (!utf8Valid) after.push(this.makeViolation('invalid-utf8', tEnd, h.offset, `The inflated text is not valid UTF-8 at byte ${v.errorIndex}.`, h.seq));
          }
        }
      }
    } else {
      bytes = m.preview.bytes();
      if (m.utf8) {
        utf8Valid = m.utf8.finish();
        if (!utf8Valid && !m.utf8Reported) {
          after.push(this.makeViolation('invalid-utf8', tEnd, h.offset, 'The text ends in the middle of a UTF-8 sequence.', h.seq));
        }
      }
    }
    const event: MessageEvent = {
      type: 'message',
      conn: this.conn,
      t: m.t,
      dir: this.dir,
      opcode: m.opcode,
      length,
      compressed: m.compressed,
      frames: m.frames,
      firstFrame: m.firstFrame,
      lastFrame: m.lastFrame,
    };
    if (m.opcode === Opcode.Text) {
      // A preview cut inside a code point would show a replacement character for a byte that is fine.
      event.text = (truncated ? bytes.subarray(0, incompleteTail(bytes)) : bytes).toString('utf8');
      if (!utf8Valid) event.utf8Valid = false;
    } else {
      event.base64 = bytes.toString('base64');
    }
    if (truncated) event.truncated = true;
    if (m.compressed) event.wireLength = m.length;
    if (inflateError !== undefined) event.inflateError = inflateError;
    this.out.push(event, ...after);
  }

  private close(h: FrameHeader, body: Buffer, tEnd: number): void {
    this.closeSeen = true;
    const at = h.offset + h.header.length;
    const after: ViolationEvent[] = [];
    let code = 1005;
    let reason = '';
    // A 1-byte body (no code) is flagged from the header by the frame decoder.
    if (body.length >= 2) {
      code = body.readUInt16BE(0);
      if (!isValidCloseCodeOnWire(code)) {
        after.push(this.makeViolation('invalid-close-code', tEnd, at, `The code was ${code}.`, h.seq));
      }
      const reasonBytes = body.subarray(2);
      const v = new Utf8Validator();
      if (!(v.push(reasonBytes) && v.finish())) {
        after.push(this.makeViolation('invalid-close-reason-utf8', tEnd, at + 2, undefined, h.seq));
      }
      reason = reasonBytes.toString('utf8');
    }
    this.closeCode = code;
    this.out.push(
      {
        type: 'close',
        conn: this.conn,
        t: h.t,
        dir: this.dir,
        code,
        reason,
        explanation: explainCloseCode(code),
        frame: h.seq,
      },
      ...after,
    );
  }
}
