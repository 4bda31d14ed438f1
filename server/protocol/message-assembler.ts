import type { Direction, MessageEvent, ViolationEvent, ViolationRule, WireEvent } from '../capture/events.ts';
import { explainCloseCode, isValidCloseCodeOnWire } from './close-codes.ts';
import { MessageInflater, type InflatedOutput, type InflateOutcome, type StreamPlan } from './deflate.ts';
import { isUtf8 } from 'node:buffer';
import type { FrameHeader, FrameSink, WholeFrame } from './frame-decoder.ts';
import { isControl, isReserved, Opcode } from './opcodes.ts';
import { RULES } from './violations.ts';
import { Utf8Validator } from './utf8.ts';
import { HEX } from '../capture/materialize.ts';

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
  /**
   * Bytes of each frame's and message's payload collected whole for a recording (`--max-payload`),
   * handed out in the event's `_whole` (events.ts) when the payload is longer than the preview.
   * 0 (the default): nothing records, nothing extra is collected.
   */
  recordBytes?: number;
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

  /**
   * Keep what fits under the cap. `owned`: `data` is the decoder's own copy (an unmasked
   * payload) and is kept as is; otherwise it may be a view of a socket chunk that must not be
   * kept alive, and is copied. Returns the kept buffer when it is all of `data` (so a second
   * preview of the same bytes can keep it without copying again), else null.
   */
  push(data: Buffer, owned = false): Buffer | null {
    this.total += data.length;
    if (this.kept >= this.cap) return null;
    const take = Math.min(this.cap - this.kept, data.length);
    const kept = owned ? (take === data.length ? data : data.subarray(0, take)) : Buffer.from(data.subarray(0, take));
    this.parts.push(kept);
    this.kept += take;
    return take === data.length ? kept : null;
  }

  bytes(): Buffer {
    // Joined once: a one-frame message asks for its frame's bytes again, and gets the same buffer.
    if (this.parts.length > 1) this.parts = [Buffer.concat(this.parts)];
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
  /** One of its frames was sent by the wiretap (MessageAssembler.injecting). */
  injected: boolean;
  /** The payload up to `recordBytes`, while something records (uncompressed messages). */
  whole?: Preview | null;
}

interface FrameState {
  header: FrameHeader;
  preview: Preview;
  /** Violations found while the frame arrived; emitted right after the frame event. */
  violations: ViolationEvent[] | null;
  /** Part of the current message (data frame or continuation that continues one). */
  inMessage: boolean;
  /** The frame began while `injecting` was on: the wiretap sent it, not the peer. */
  injected: boolean;
  /** The payload up to `recordBytes`, for a frame longer than the preview while something records. */
  whole?: Preview | null;
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
  /** One validator, reset for each text message (a direction's messages never overlap). */
  private readonly utf8 = new Utf8Validator();
  /** The close frame's code, or null while none has been seen. */
  closeCode: number | null = null;
  frames = 0;
  /**
   * On while the bytes being decoded are ones the wiretap inserted (a crafted frame, its close
   * frame), set by ConnectionDecoder.receiveInjected for one call: frames that begin meanwhile
   * get `injected: true`, as do their violations, control events and message. Such frames skip
   * the fast path, whose events stay exactly as they are for everyone else.
   */
  injecting = false;

  constructor(
    private readonly conn: number,
    private readonly dir: Direction,
    private readonly out: WireEvent[],
    private readonly limits: DecoderLimits,
    /** Time of the 101 response; frames from the client before it broke §4.1. */
    private readonly handshakeDoneAt: number = -Infinity,
    /**
     * Where compressed messages go to be inflated by the caller (ConnectionDecoder's deferred
     * inflation); null: inflated here, at once.
     */
    private readonly deferred: PendingInflation[] | null = null,
  ) {}

  /** permessage-deflate was negotiated: inflate RSV1 messages with these parameters. */
  enableDeflate(windowBits: number, noContextTakeover: boolean): void {
    this.inflater = new MessageInflater(windowBits, noContextTakeover, this.limits.maxInflatedMessage);
  }

  wholeFrameWanted(length: number, t: number, seq: number): boolean {
    return (
      !this.injecting &&
      this.message === null &&
      !this.closeSeen &&
      length <= this.limits.previewBytes &&
      !(this.dir === 'client' && seq === 0 && t < this.handshakeDoneAt)
    );
  }

  /**
   * The fast path (FrameSink.wholeFrame): one frame that is one whole message and breaks no
   * rule. Its events are the general path's, field for field, left lazy: the payload stays
   * bytes, and the header, masking key and text are made from it when first read
   * (server/capture/materialize.ts).
   */
  wholeFrame(w: WholeFrame): boolean {
    const text = w.opcode === Opcode.Text;
    if (text && !w.ascii && !isUtf8(w.payload)) return false;
    this.frames++;
    const payload = w.payload;
    this.out.push(
      {
        type: 'frame', conn: this.conn, t: w.t, dir: this.dir, fin: true, rsv1: false, rsv2: false, rsv3: false,
        opcode: w.opcode, masked: w.masked, maskKey: null, length: w.length, lengthEncoding: w.lengthEncoding,
        payload: '', offset: w.offset, header: '', headerLength: w.headerLength, tEnd: w.t, seq: w.seq,
        _bytes: payload, _mask: w.masked ? w.maskKey : undefined,
      },
      {
        type: 'message', conn: this.conn, t: w.t, dir: this.dir, opcode: w.opcode, length: w.length, compressed: false,
        frames: 1, firstFrame: w.seq, lastFrame: w.seq, _bytes: payload,
      },
    );
    return true;
  }

  frameHeader(h: FrameHeader): void {
    this.frames++;
    const fs: FrameState = { header: h, preview: new Preview(this.limits.previewBytes), violations: null, inMessage: false, injected: this.injecting };
    this.frame = fs;
    const record = this.limits.recordBytes ?? 0;
    if (record > 0 && h.length > this.limits.previewBytes) fs.whole = new Preview(record);
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
        // A message of one frame has that frame's bytes: share its preview rather than copy them.
        preview: h.fin ? fs.preview : new Preview(this.limits.previewBytes),
        utf8: h.opcode === Opcode.Text && !compressed ? this.utf8.reset() : null,
        gathered: compressed ? [] : null,
        gatheredBytes: 0,
        utf8Reported: false,
        injected: false,
        // Only a message longer than its preview needs it; one frame shares its frame's.
        whole: (this.limits.recordBytes ?? 0) > 0 && !compressed ? (h.fin ? fs.whole ?? null : new Preview(this.limits.recordBytes!)) : null,
      };
    }
    const m = this.message!;
    if (fs.injected) m.injected = true;
    m.frames++;
    m.lastFrame = h.seq;
    fs.inMessage = true;
  }

  framePayload(h: FrameHeader, data: Buffer, payloadOffset: number): void {
    const fs = this.frame!;
    // A masked frame's payload arrives as the frame decoder's own unmasked copy: kept, not copied.
    const kept = fs.preview.push(data, h.masked);
    fs.whole?.push(data, h.masked);
    if (!fs.inMessage) return;
    const m = this.message!;
    m.length += data.length;
    if (m.compressed) {
      if (m.gathered) {
        m.gatheredBytes += data.length;
        if (m.gatheredBytes > this.limits.maxCompressedMessage) {
          // The history is lost when the message ends (PendingInflation), in turn with the others.
          m.gathered = null;
        } else {
          m.gathered.push(Buffer.from(data));
        }
      }
      return;
    }
    if (m.preview !== fs.preview) {
      if (kept) m.preview.push(kept, true);
      else m.preview.push(data, h.masked);
    }
    if (m.whole && m.whole !== fs.whole) m.whole.push(data, h.masked);
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
    const from = this.out.length;
    const payload = fs.preview.bytes();
    const header = hexOf(h.header);
    // The masking key is the header's last 4 bytes (§5.2): slice the hex rather than encode it again.
    const maskKey = h.maskKey ? header.slice(-8) : null;
    const truncated = fs.preview.truncated;
    if (h.lengthExact === undefined && !truncated && complete) {
      // The common case as one literal (no spreads): same fields, same order as below.
      this.out.push({
        type: 'frame', conn: this.conn, t: h.t, dir: this.dir, fin: h.fin, rsv1: h.rsv1, rsv2: h.rsv2, rsv3: h.rsv3,
        opcode: h.opcode, masked: h.masked, maskKey, length: h.length, lengthEncoding: h.lengthEncoding,
        payload: '', offset: h.offset, header, headerLength: h.header.length, tEnd, seq: h.seq,
        _bytes: payload, _mask: undefined,
      });
    } else {
      const whole = fs.whole && truncated ? { bytes: fs.whole.bytes(), cut: fs.whole.truncated } : undefined;
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
        maskKey,
        length: h.length,
        ...(h.lengthExact !== undefined ? { lengthExact: h.lengthExact } : {}),
        lengthEncoding: h.lengthEncoding,
        payload: '',
        ...(truncated ? { truncated: true } : {}),
        ...(complete ? {} : { complete: false }),
        offset: h.offset,
        header,
        headerLength: h.header.length,
        tEnd,
        seq: h.seq,
        _bytes: payload,
        _mask: undefined,
        ...(whole ? { _whole: whole } : {}),
      });
    }
    if (fs.violations) for (const v of fs.violations) this.out.push(v);
    if (!complete) {
      if (fs.injected) this.markInjected(from);
      return;
    }

    if (h.opcode === Opcode.Close) this.close(h, payload, tEnd);
    else if (h.opcode === Opcode.Ping || h.opcode === Opcode.Pong) {
      this.out.push({
        type: h.opcode === Opcode.Ping ? 'ping' : 'pong',
        conn: this.conn,
        t: h.t,
        dir: this.dir,
        payload: '',
        frame: h.seq,
        _bytes: payload,
      });
    } else if (fs.inMessage && h.fin) {
      this.finishMessage(h, tEnd, fs.injected);
    }
    // The frame, its violations and what it completes: all the wiretap's doing.
    if (fs.injected) this.markInjected(from);
  }

  /** Mark the events pushed since `from` as the wiretap's own (FrameEvent.injected). */
  private markInjected(from: number): void {
    const out = this.out as Array<WireEvent & { injected?: true }>;
    for (let i = from; i < out.length; i++) out[i]!.injected = true;
  }

  violation(rule: ViolationRule, h: FrameHeader, offset: number, message?: string): void {
    this.flag(rule, h.t, offset, message);
  }

  private flag(rule: ViolationRule, t: number, offset: number, message?: string): void {
    const v = this.makeViolation(rule, t, offset, message);
    if (this.frame) {
      v.frame = this.frame.header.seq;
      (this.frame.violations ??= []).push(v);
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

  private finishMessage(h: FrameHeader, tEnd: number, frameInjected: boolean): void {
    const m = this.message!;
    this.message = null;
    const event: MessageEvent = {
      type: 'message',
      conn: this.conn,
      t: m.t,
      dir: this.dir,
      opcode: m.opcode,
      length: m.length,
      compressed: m.compressed,
      frames: m.frames,
      firstFrame: m.firstFrame,
      lastFrame: m.lastFrame,
    };
    if (m.compressed) {
      const job = new PendingInflation(event, m.gathered && Buffer.concat(m.gathered), this.inflater!, {
        previewBytes: this.limits.previewBytes,
        recordBytes: this.limits.recordBytes ?? 0,
        maxCompressed: this.limits.maxCompressedMessage,
        tEnd,
        offset: h.offset,
        seq: h.seq,
        injected: m.injected,
        frameInjected,
        violation: (rule, message) => this.makeViolation(rule, tEnd, h.offset, message, h.seq),
      });
      if (this.deferred) {
        // The event goes out now, in its place; the caller completes it (PendingInflation).
        this.out.push(event);
        this.deferred.push(job);
      } else {
        this.out.push(event, ...job.inflateNow()!);
      }
      return;
    }
    let utf8Valid = true;
    let after: ViolationEvent | null = null;
    if (m.utf8) {
      utf8Valid = m.utf8.finish();
      if (!utf8Valid && !m.utf8Reported) {
        after = this.makeViolation('invalid-utf8', tEnd, h.offset, 'The text ends in the middle of a UTF-8 sequence.', h.seq);
      }
    }
    // The text or base64 is made from the bytes when the event is first read (materialize.ts).
    event._bytes = m.preview.bytes();
    if (m.opcode === Opcode.Text && !utf8Valid) event.utf8Valid = false;
    // A message begun by an injected frame and finished by the peer's continuation is marked too.
    if (m.injected) event.injected = true;
    if (m.preview.truncated) event.truncated = true;
    if (m.preview.truncated && m.whole) event._whole = { bytes: m.whole.bytes(), cut: m.whole.truncated };
    if (after) this.out.push(event, after);
    else this.out.push(event);
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

/** Hex of a frame header (2-14 bytes): a table beats `toString('hex')`'s call overhead on a few bytes. */
function hexOf(b: Buffer): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]!;
  return s;
}

interface PendingInfo {
  previewBytes: number;
  /** DecoderLimits.recordBytes: the inflated data is kept up to this for a recording (`_whole`). */
  recordBytes: number;
  maxCompressed: number;
  tEnd: number;
  offset: number;
  seq: number;
  /** One of the message's frames was the wiretap's (MessageAssembler.injecting). */
  injected: boolean;
  /** Its last frame was: what follows the message event (its violations) is the wiretap's doing too. */
  frameInjected: boolean;
  violation: (rule: ViolationRule, message: string) => ViolationEvent;
}

/**
 * A compressed message to be inflated: its `message` event, made but for what inflation tells
 * (length, data, UTF-8 validity, `inflateError`), and the way to complete it. The assembler
 * completes it at once; with deferred inflation (ConnectionDecoder) the caller does, off the
 * decoder's path (server/tap/inflation.ts), strictly in order: a direction's messages share one
 * MessageInflater, whose history (context takeover) each one leaves to the next.
 *
 * Each way of completing it returns the violations to put right after the event.
 */
export class PendingInflation {
  private refusal: string | null = null;

  constructor(
    readonly event: MessageEvent,
    /** The compressed payload; null when it passed the gather bound (there is nothing to inflate). */
    private compressed: Buffer | null,
    readonly inflater: MessageInflater,
    private readonly info: PendingInfo,
  ) {}

  /** Refused (refuse): it will not be inflated, whatever the budget. */
  get refused(): boolean {
    return this.refusal !== null;
  }

  /** Compressed bytes held for the message. */
  get size(): number {
    return this.compressed?.length ?? 0;
  }

  get text(): boolean {
    return this.event.opcode === Opcode.Text;
  }

  /** Inflated bytes kept: the preview, or while something records the recording's cap. */
  private get keep(): number {
    return Math.max(this.info.previewBytes, this.info.recordBytes);
  }

  /**
   * Inflate now, synchronously. With `limit`, a trial: null (and nothing changed) when the
   * output would pass `limit` bytes, so the message can be inflated elsewhere from the same state.
   */
  inflateNow(limit?: number): ViolationEvent[] | null {
    if (this.refusal !== null) return this.skip(this.refusal);
    if (this.compressed === null) return this.notGathered();
    const r = this.inflater.inflateMessage(this.compressed, this.keep, this.text, limit);
    return r && this.complete(r);
  }

  /**
   * To inflate it in pieces elsewhere: zlib's input and options, from the inflater's state as it
   * stands (every earlier message of the direction done), and an accumulator for the output; or
   * the violations, when it is complete already (nothing to inflate, or a refusal).
   */
  begin(): { plan: StreamPlan; output: () => InflatedOutput } | ViolationEvent[] {
    if (this.refusal !== null) return this.skip(this.refusal);
    if (this.compressed === null) return this.notGathered();
    const plan = this.inflater.streamOptions(this.compressed);
    if ('error' in plan) return this.complete(plan);
    return { plan, output: () => this.inflater.output(this.keep, this.text) };
  }

  /** Inflated in pieces into `output` (begin); `lenient`: only by the lenient pass. */
  streamed(output: InflatedOutput, lenient: boolean): ViolationEvent[] {
    return this.complete(this.inflater.streamed(output, lenient ? MessageInflater.LENIENT_WARNING : undefined));
  }

  /** Inflating it in pieces failed: the output passed the bound, or zlib refused the data. */
  streamFailed(cause: 'too-large' | Error): ViolationEvent[] {
    return this.complete(this.inflater.streamFailed(cause));
  }

  /**
   * Decide now that it will not be inflated, for `reason`; its compressed bytes are let go at
   * once. Said (and the history lost) when its turn comes, as the earlier messages may still
   * need the history.
   */
  refuse(reason: string): void {
    this.refusal = reason;
    this.compressed = null;
  }

  /** Not inflated, for `reason` (said in its `inflateError`); later messages lose their history. */
  skip(reason: string): ViolationEvent[] {
    this.inflater.loseHistory(`an earlier message was not inflated (${reason})`);
    return this.complete({ error: `not inflated: ${reason}` });
  }

  private notGathered(): ViolationEvent[] {
    this.inflater.loseHistory(`a compressed message passed the ${this.info.maxCompressed}-byte bound`);
    return this.complete({ error: `not inflated: the compressed message passed the ${this.info.maxCompressed}-byte bound` });
  }

  /** Fill in the event from what inflating it gave. */
  complete(r: InflateOutcome): ViolationEvent[] {
    const event = this.event;
    const wireLength = event.length;
    const after: ViolationEvent[] = [];
    this.compressed = null;
    let utf8Valid = true;
    let truncated = false;
    let inflateError: string | undefined;
    if ('error' in r) {
      inflateError = r.error;
      event._bytes = Buffer.alloc(0);
      if (r.error.startsWith('corrupt')) after.push(this.info.violation('invalid-compressed-data', r.error));
    } else {
      if (r.warning) after.push(this.info.violation('invalid-compressed-data', `The message inflated, but ${r.warning}.`));
      event.length = r.length;
      if (r.preview.length > this.info.previewBytes) {
        // Kept up to the recording's cap: the recording gets it whole, the store a copy of the preview.
        event._whole = { bytes: r.preview, cut: r.length > r.preview.length };
        event._bytes = Buffer.from(r.preview.subarray(0, this.info.previewBytes));
      } else event._bytes = r.preview;
      truncated = r.length > this.info.previewBytes;
      if (r.utf8ErrorIndex >= 0) {
        utf8Valid = false;
        after.push(this.info.violation('invalid-utf8', `The inflated text is not valid UTF-8 at byte ${r.utf8ErrorIndex}.`));
      }
    }
    if (!utf8Valid) event.utf8Valid = false;
    if (this.info.injected) event.injected = true;
    if (truncated) event.truncated = true;
    event.wireLength = wireLength;
    if (inflateError !== undefined) event.inflateError = inflateError;
    if (this.info.frameInjected) for (const v of after) (v as ViolationEvent & { injected?: true }).injected = true;
    return after;
  }
}
