import type { AppInfo, FrameEvent, MessageEvent, WireEvent } from './events.ts';
import { materialize } from './materialize.ts';

/**
 * Packed slots for the CaptureStore: the events most traffic is made of (a small text or binary
 * frame and the one-frame message it carries, as the decoders' fast path makes them) kept as
 * numbers in typed arrays and their payload in a byte arena, one slot per ring position,
 * instead of as objects.
 *
 * Why: the store holds the newest 100,000 events. Held as objects, every event outlives many
 * young-generation collections and is copied into the old generation, and the collector keeps
 * walking all of them: on the echo bench that was most of what the wiretap added to a plain
 * relay. Packed, an event's object dies young (nearly free to collect) and what is held is a
 * few preallocated arrays the collector never looks inside.
 *
 * An event comes back out as a new object, made (strings and all) through `materialize`, equal
 * field for field to the one that went in.
 */

/**
 * Payload bytes a packed event may carry; larger ones stay objects (they are few per second).
 * 256, not 128: a STOMP MESSAGE or a GraphQL `next` with its envelope is often 130-250 bytes, and
 * on the bench (app-micro.ts, stomp) those held as objects cost the wiretap ~2x its CPU per round
 * trip in garbage collection.
 */
export const PACKED_PAYLOAD = 256;
/**
 * Bytes of a slot's payload in the first arena (maxEvents × 128: 32 MB at 250,000 events); a
 * longer payload's rest goes to the second, made when first needed, so traffic of small messages
 * touches no more memory than before the bound was raised.
 */
const HEAD_BYTES = 128;

const KIND_FRAME = 1;
const KIND_MESSAGE = 2;

const FLAG_SERVER = 0x10;
const FLAG_MASKED = 0x20;
const FLAG_LEN16 = 0x40;

export class PackedSlots {
  private kind: Uint8Array;
  /** Opcode in the low 4 bits, then direction, masked, 16-bit length. */
  private flags: Uint8Array;
  private headerLength: Uint8Array;
  private payloadLength: Uint16Array;
  private conn: Float64Array;
  private t: Float64Array;
  private tEnd: Float64Array;
  private offset: Float64Array;
  private seq: Float64Array;
  private length: Float64Array;
  private mask: Uint32Array;
  private payload: Uint8Array;
  /** Bytes HEAD_BYTES.. of the payloads longer than that, by slot (HEAD_BYTES each); made on first need. */
  private tail: Uint8Array | null = null;
  /**
   * A packed message's decoded application layer (MessageEvent.app, or the function that makes
   * it, `_app`), by slot; the array made on first need. A message packed with its `app` beside
   * it costs the collector less than the same message held as an object.
   */
  private apps: Array<AppInfo | ((e: MessageEvent) => AppInfo) | undefined> | null = null;
  /** The number `_app` is called with (`_appArg`), by slot, beside `apps`. */
  private appArgs: Float64Array | null = null;

  constructor(readonly slots: number) {
    // Zero-filled typed arrays cost nothing until written: a store that never packs never pays.
    this.kind = new Uint8Array(slots);
    this.flags = new Uint8Array(slots);
    this.headerLength = new Uint8Array(slots);
    this.payloadLength = new Uint16Array(slots);
    this.conn = new Float64Array(slots);
    this.t = new Float64Array(slots);
    this.tEnd = new Float64Array(slots);
    this.offset = new Float64Array(slots);
    this.seq = new Float64Array(slots);
    this.length = new Float64Array(slots);
    this.mask = new Uint32Array(slots);
    this.payload = new Uint8Array(slots * HEAD_BYTES);
  }

  /**
   * Pack `e` into `slot` if it is one of the events packed (a lazy fast-path frame or one-frame
   * message, payload within PACKED_PAYLOAD); returns false, writing nothing, for any other
   * (one the wiretap injected among them: a slot has no room for `injected`).
   */
  pack(slot: number, e: WireEvent): boolean {
    if (this.apps !== null) this.apps[slot] = undefined;
    if (e.type === 'frame') {
      const b = e._bytes;
      if (
        e.header !== '' || b === undefined || b.length > PACKED_PAYLOAD || b.length !== e.length || !e.fin || e.rsv1 || e.rsv2 || e.rsv3 ||
        e.lengthEncoding === 64 || e.truncated !== undefined || e.complete !== undefined || e.lengthExact !== undefined ||
        e.injected !== undefined
      ) {
        return false;
      }
      this.kind[slot] = KIND_FRAME;
      this.flags[slot] = e.opcode | (e.dir === 'server' ? FLAG_SERVER : 0) | (e.masked ? FLAG_MASKED : 0) | (e.lengthEncoding === 16 ? FLAG_LEN16 : 0);
      this.headerLength[slot] = e.headerLength;
      this.tEnd[slot] = e.tEnd;
      this.offset[slot] = e.offset;
      this.seq[slot] = e.seq;
      this.mask[slot] = e._mask ?? 0;
      this.common(slot, e, b);
      return true;
    }
    if (e.type === 'message') {
      const b = e._bytes;
      if (
        b === undefined || b.length > PACKED_PAYLOAD || b.length !== e.length || e.frames !== 1 || e.compressed || e.truncated !== undefined ||
        e.utf8Valid !== undefined || e.inflateError !== undefined || e.wireLength !== undefined || e.firstFrame !== e.lastFrame ||
        e.injected !== undefined
      ) {
        return false;
      }
      const app = e._app ?? e.app;
      if (app !== undefined) {
        (this.apps ??= new Array<AppInfo | ((e: MessageEvent) => AppInfo) | undefined>(this.slots))[slot] = app;
        (this.appArgs ??= new Float64Array(this.slots))[slot] = e._appArg ?? -1;
      }
      this.kind[slot] = KIND_MESSAGE;
      this.flags[slot] = e.opcode | (e.dir === 'server' ? FLAG_SERVER : 0);
      this.seq[slot] = e.firstFrame;
      this.common(slot, e, b);
      return true;
    }
    return false;
  }

  private common(slot: number, e: FrameEvent | MessageEvent, b: Uint8Array): void {
    this.conn[slot] = e.conn;
    this.t[slot] = e.t;
    this.length[slot] = e.length;
    this.payloadLength[slot] = b.length;
    const at = slot * HEAD_BYTES;
    const arena = this.payload;
    if (b.length > HEAD_BYTES) {
      // Plain Uint8Array views: a Buffer's subarray makes a FastBuffer, a little dearer (measured ~10 %).
      arena.set(new Uint8Array(b.buffer, b.byteOffset, HEAD_BYTES), at);
      const tail = (this.tail ??= new Uint8Array(this.slots * (PACKED_PAYLOAD - HEAD_BYTES)));
      const tailAt = slot * (PACKED_PAYLOAD - HEAD_BYTES);
      // A short rest (a STOMP MESSAGE of ~130 bytes has a few) is copied byte by byte, as short payloads are below: a view and its set cost more.
      if (b.length - HEAD_BYTES <= 32) for (let i = HEAD_BYTES; i < b.length; i++) tail[tailAt + i - HEAD_BYTES] = b[i]!;
      else tail.set(new Uint8Array(b.buffer, b.byteOffset + HEAD_BYTES, b.length - HEAD_BYTES), tailAt);
    } else if (b.length > 32) arena.set(b, at);
    else for (let i = 0; i < b.length; i++) arena[at + i] = b[i]!;
  }

  /** The event packed in `slot`, as a new object, made. */
  unpack(slot: number): WireEvent {
    const flags = this.flags[slot]!;
    const dir = flags & FLAG_SERVER ? 'server' : 'client';
    const opcode = (flags & 0x0f) as 1 | 2;
    const at = slot * HEAD_BYTES;
    const length = this.payloadLength[slot]!;
    let bytes: Buffer;
    if (length <= HEAD_BYTES) bytes = Buffer.from(this.payload.subarray(at, at + length));
    else {
      bytes = Buffer.allocUnsafe(length);
      bytes.set(this.payload.subarray(at, at + HEAD_BYTES), 0);
      const tailAt = slot * (PACKED_PAYLOAD - HEAD_BYTES);
      bytes.set(this.tail!.subarray(tailAt, tailAt + length - HEAD_BYTES), HEAD_BYTES);
    }
    if (this.kind[slot] === KIND_FRAME) {
      const masked = (flags & FLAG_MASKED) !== 0;
      return materialize<FrameEvent>({
        type: 'frame', conn: this.conn[slot]!, t: this.t[slot]!, dir, fin: true, rsv1: false, rsv2: false, rsv3: false,
        opcode, masked, maskKey: null, length: this.length[slot]!, lengthEncoding: flags & FLAG_LEN16 ? 16 : 7,
        payload: '', offset: this.offset[slot]!, header: '', headerLength: this.headerLength[slot]!, tEnd: this.tEnd[slot]!, seq: this.seq[slot]!,
        _bytes: bytes, _mask: masked ? this.mask[slot]! : undefined,
      });
    }
    const seq = this.seq[slot]!;
    const app = this.apps?.[slot];
    const m = materialize<MessageEvent>({
      type: 'message', conn: this.conn[slot]!, t: this.t[slot]!, dir, opcode, length: this.length[slot]!, compressed: false,
      frames: 1, firstFrame: seq, lastFrame: seq, _bytes: bytes,
      // Made by materialize, from the data it makes first.
      ...(typeof app === 'function' ? { _app: app, _appArg: this.appArgs![slot]! } : {}),
    });
    if (app !== undefined && typeof app !== 'function') m.app = app;
    return m;
  }
}
