import type { Direction, WireEvent } from '../../server/capture/events.ts';
import { materializeAll } from '../../server/capture/materialize.ts';
import { FrameDecoder } from '../../server/protocol/frame-decoder.ts';
import { DEFAULT_LIMITS, MessageAssembler, type DecoderLimits } from '../../server/protocol/message-assembler.ts';

export interface DecodeOptions {
  /** Split the bytes into chunks of these sizes (cycled); default: one chunk. */
  chunks?: number[];
  deflate?: { windowBits: number; noContextTakeover: boolean };
  limits?: Partial<DecoderLimits>;
}

/** Decode one direction's frame bytes (after the handshake) and return every event. */
export function decodeFrames(dir: Direction, bytes: Buffer, opts: DecodeOptions = {}): WireEvent[] {
  const out: WireEvent[] = [];
  const assembler = new MessageAssembler(1, dir, out, { ...DEFAULT_LIMITS, ...opts.limits });
  const decoder = new FrameDecoder(dir, assembler);
  if (opts.deflate) {
    decoder.deflate = true;
    assembler.enableDeflate(opts.deflate.windowBits, opts.deflate.noContextTakeover);
  }
  let pos = 0;
  let i = 0;
  let t = 0;
  const sizes = opts.chunks ?? [bytes.length || 1];
  while (pos < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    decoder.receive(bytes.subarray(pos, pos + n), t++);
    pos += n;
  }
  decoder.end(t);
  return materializeAll(out);
}

/** The event type for a `type` value; ping and pong share one interface, so Extract alone would miss them. */
export type EventOf<T extends WireEvent['type']> = WireEvent & { type: T };

export function ofType<T extends WireEvent['type']>(events: WireEvent[], type: T): EventOf<T>[] {
  return events.filter((e): e is EventOf<T> => e.type === type);
}

export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
