/**
 * MQTT 3.1, 3.1.1 and 5.0 over WebSocket (`mqtt`, `mqttv3.1`).
 *
 * MQTT over WebSocket is a byte stream cut into binary messages anywhere (MQTT 3.1.1 §6, MQTT
 * 5.0 §6): a message may hold several control packets, or part of one (mqtt.js and aedes write
 * a packet's fixed header, topic and payload as separate messages). So each direction is a
 * stream: a control packet is a fixed header (the type in the high nibble of its first byte,
 * flags in the low one, then the Remaining Length, a Variable Byte Integer of at most 4 bytes),
 * a variable header and a payload. A packet is reported on the message that completes it,
 * with `spans` naming the messages it started in.
 *
 * The Remaining Length is a number the peer wrote (up to 256 MB): nothing is allocated by it.
 * The first MAX_KEPT bytes of a packet are kept for decoding, the rest only counted, so a huge
 * PUBLISH costs the same memory as a small one.
 */
import type { AppInfo, AppLayerSpan, AppUnit, Direction, MessageRef } from '../../capture/events.ts';
import { isUtf8 } from 'node:buffer';
import { incompleteTail } from '../utf8.ts';
import type { AppDecoder, AppMaker, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { decoderFailure } from './failure.ts';
import { PendingIds } from './pending.ts';

/** Bytes of one packet kept for decoding (its payload shown from them); the rest are counted. */
export const MAX_KEPT = 64 * 1024;
/** Earlier messages named in `spans` (a packet spread over more is still followed, its list cut). */
export const MAX_SPANS = 64;
/** Packets of one message listed in `parts` (the rest are counted in the summary). */
export const MAX_PARTS = 64;
const SUMMARY_PAYLOAD_CHARS = 60;

/** Packets waiting for an answer remembered per direction (for `replyTo`). */
export const MAX_WAITING = 256;
/** Packets that answer one of the other side's by its Packet Identifier. */
const ANSWERS = new Set(['PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBACK', 'UNSUBACK']);

export type MqttVersion = '3.1' | '3.1.1' | '5.0';

const TYPES = ['reserved (0)', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];
/** Who may send each packet type (MQTT 5.0 §2.1.2; in 3.1.1 DISCONNECT is the client's only). */
const SENDER: Record<number, Direction | 'both'> = {
  1: 'client', 2: 'server', 3: 'both', 4: 'both', 5: 'both', 6: 'both', 7: 'both',
  8: 'client', 9: 'server', 10: 'client', 11: 'server', 12: 'client', 13: 'server', 14: 'both', 15: 'both',
};
const CONNACK_311 = ['accepted', 'refused: unacceptable protocol version', 'refused: identifier rejected', 'refused: server unavailable', 'refused: bad user name or password', 'refused: not authorized'];
const REASON_5: Record<number, string> = {
  0x00: 'success', 0x80: 'unspecified error', 0x81: 'malformed packet', 0x82: 'protocol error', 0x83: 'implementation specific error',
  0x84: 'unsupported protocol version', 0x85: 'client identifier not valid', 0x86: 'bad user name or password', 0x87: 'not authorized',
  0x88: 'server unavailable', 0x89: 'server busy', 0x8a: 'banned', 0x8c: 'bad authentication method', 0x90: 'topic name invalid',
  0x95: 'packet too large', 0x97: 'quota exceeded', 0x99: 'payload format invalid', 0x9a: 'retain not supported', 0x9b: 'qos not supported',
  0x9c: 'use another server', 0x9d: 'server moved', 0x9f: 'connection rate exceeded',
};

/**
 * A decoder for one MQTT connection; `mqttv3.1` starts at 3.1, `mqtt` at 3.1.1 until the CONNECT
 * says. `lazy: false` decodes every packet whole on the decoder's pass and makes `app` at once:
 * the reference the relay's lazy pass is checked against (its rules and links must be the same).
 */
export function mqttDecoder(version: MqttVersion = '3.1.1', options: { lazy?: boolean } = {}): AppDecoder {
  return new MqttDecoder(version, version, options.lazy ?? true);
}

/** A packet being read from one direction's stream. */
interface Packet {
  /** Fixed header bytes read so far (1 to 5). */
  header: number[];
  /** Remaining Length, once its last byte is read. */
  remaining: number | null;
  kept: Uint8Array[];
  keptLength: number;
  /** Bytes of the variable header and payload read so far (kept or not). */
  read: number;
  /** Messages before this one it started in. */
  spans: MessageRef[];
  /** Offset in the current message where it started (-1 when it started earlier). */
  start: number;
}

interface Lane {
  packet: Packet | null;
  /** Packets read in this direction (the client's first must be a CONNECT). */
  count: number;
}


class MqttDecoder implements AppDecoder {
  readonly protocol = 'mqtt' as const;
  private readonly lanes: Record<Direction, Lane> = { client: { packet: null, count: 0 }, server: { packet: null, count: 0 } };
  private connects = 0;
  /**
   * Per sender, the packets still waiting for their answer, by Packet Identifier: a PUBLISH at
   * QoS 1 or 2 (answered by PUBACK or PUBREC), a PUBREC (by PUBREL), a PUBREL (by PUBCOMP), a
   * SUBSCRIBE or UNSUBSCRIBE (by SUBACK, UNSUBACK). Bounded, the oldest forgotten first.
   */
  private readonly waiting: Record<Direction, PendingIds<number, MessageRef>> = { client: new PendingIds(MAX_WAITING), server: new PendingIds(MAX_WAITING) };
  /** The last PUBLISH's payload size (for its layers), set by packet(). */
  private payloadSize = 0;

  /** The decoder's pass over a message that starts clean: each complete packet's replyTo, in order, for the replay that makes `app`. */
  private replies: Array<MessageRef | undefined> | null = null;
  /** A replay (making `app` when an event is read): the replyTos the decoder's pass found, in order. */
  private replayReplies: ReadonlyArray<MessageRef | undefined> | null = null;
  private replayNext = 0;

  constructor(
    private version: MqttVersion,
    private readonly base: MqttVersion = version,
    private readonly lazy = true,
  ) {}

  message(m: AppMessage): AppResult {
    // A message that starts clean (no packet carried from an earlier one) is made again, when
    // read, from itself, the version it began with and the replyTos found now (AppResult.maker).
    const clean = this.lanes[m.dir].packet === null && !m.truncated;
    const version = this.version;
    const replies: Array<MessageRef | undefined> = [];
    try {
      if (!clean || !this.lazy) return this.decode(m);
      this.replies = replies;
      const r = this.decode(m);
      if (r.app === undefined) return r;
      const out: AppResult =
        replies.length <= 1 ? { maker: MAKERS[version], arg: replies[0]?.firstFrame ?? -1 } : { make: () => REPLAYS[version].replay(m, replies) };
      if (r.violations) out.violations = r.violations;
      return out;
    } catch (err) {
      this.lanes[m.dir].packet = null;
      return { violations: [decoderFailure('MQTT', err)] };
    } finally {
      this.replies = null;
    }
  }

  /** `app` again for a message that began clean: fresh lanes, the version it began with, the replyTos its pass found. */
  replay(m: AppMessage, replies: ReadonlyArray<MessageRef | undefined>): AppInfo {
    this.version = this.base;
    this.lanes[m.dir] = { packet: null, count: 0 };
    this.replayReplies = replies;
    this.replayNext = 0;
    try {
      return this.decode(m).app ?? { protocol: 'mqtt', type: 'empty', summary: 'an empty message' };
    } catch (err) {
      return { protocol: 'mqtt', type: 'invalid', summary: decoderFailure('MQTT', err).message };
    } finally {
      this.replayReplies = null;
    }
  }

  private section(s311: string, s5: string): string {
    return this.version === '5.0' ? `MQTT 5.0, ${s5}` : `MQTT ${this.version === '3.1' ? '3.1.1' : this.version}, ${s311}`;
  }

  private decode(m: AppMessage): AppResult {
    const lane = this.lanes[m.dir];
    const data = m.data;
    const violations: AppRuleBroken[] = [];
    const units: AppUnit[] = [];
    let extra = 0;
    let spans: MessageRef[] | undefined;
    let desync = false;

    if (m.opcode === 1) {
      violations.push({
        rule: 'mqtt-text-message',
        section: this.section('6 Using WebSocket as a network transport', '6 Using WebSocket as a network transport'),
        message: 'MQTT control packets must be sent in binary messages; a receiver closes the connection on a text message.',
      });
    }

    // A cut message (the stage hands decoders only its start): the bytes not seen are still
    // counted, so a big PUBLISH is followed to its end; only a fixed header among them loses
    // the stream (`lost`), which is then followed again from the next message.
    const end = m.truncated && m.length !== undefined && m.length > data.length ? m.length : data.length;
    let lost = m.truncated && end === data.length;
    let p = 0;
    if (lane.packet !== null) lane.packet.start = -1;
    while (p < end && !desync) {
      if (p >= data.length && (lane.packet === null || lane.packet.remaining === null)) {
        lost = true;
        break;
      }
      let pk = lane.packet;
      if (pk === null) {
        pk = lane.packet = { header: [], remaining: null, kept: [], keptLength: 0, read: 0, spans: [], start: p };
      }
      // The fixed header: a type byte and a Variable Byte Integer of at most 4 bytes.
      while (pk.remaining === null && p < data.length) {
        const b = data[p++]!;
        pk.header.push(b);
        if (pk.header.length === 1) continue;
        if ((b & 0x80) === 0) {
          let v = 0;
          for (let i = pk.header.length - 1; i >= 1; i--) v = v * 128 + (pk.header[i]! & 0x7f);
          pk.remaining = v;
        } else if (pk.header.length === 5) {
          violations.push({
            rule: 'mqtt-bad-remaining-length',
            section: this.section('2.2.3 Remaining Length', '1.5.5 Variable Byte Integer'),
            message: `The ${TYPES[pk.header[0]! >> 4]} packet's Remaining Length goes on past 4 bytes (the 4th has its continuation bit set): a malformed packet; the rest of this message is not followed.`,
          });
          desync = true;
          break;
        }
      }
      if (desync || pk.remaining === null) break;
      const take = Math.min(pk.remaining - pk.read, end - p);
      const keep = Math.min(take, Math.max(0, data.length - p), MAX_KEPT - pk.keptLength);
      if (keep > 0) {
        pk.kept.push(data.subarray(p, p + keep));
        pk.keptLength += keep;
      }
      pk.read += take;
      p += take;
      if (pk.read < pk.remaining) break;

      // Complete.
      lane.packet = null;
      lane.count++;
      const body = concat(pk.kept, pk.keptLength);
      const start = pk.start;
      const unit = this.packet(pk.header[0]!, body, pk.remaining, m.dir, lane.count, violations);
      this.link(unit, m);
      const headerLength = pk.header.length;
      // The decoder's pass over a clean message (`replies`) makes no layers: its replay does.
      if (this.replies === null) unit.layers = clip(start >= 0 ? layersOf(unit, start, headerLength, p, this.payloadSize) : [{ name: 'MQTT packet (end)', start: 0, end: p, label: unit.type }], data.length);
      if (pk.spans.length > 0 || start < 0) {
        unit.summary += ` (in ${pk.spans.length + 1} messages)`;
        spans = pk.spans;
      }
      if (units.length < MAX_PARTS) units.push(unit);
      else extra++;
    }

    // A packet that goes on in the next message: say so on this one.
    const open = lane.packet;
    if (!desync && open !== null) {
      if (lost) {
        lane.packet = null;
      } else {
        const earlier = open.start < 0;
        if (open.spans.length < MAX_SPANS) open.spans.push(m.ref);
        const type = open.header.length > 0 ? TYPES[open.header[0]! >> 4]! : 'packet';
        if (units.length < MAX_PARTS) {
          units.push({
            protocol: 'mqtt',
            type: 'partial',
            packetType: type,
            summary: `${type}: ${earlier ? 'middle of a packet; it' : 'the packet'} continues in the next message`,
            layers: clip([{ name: earlier ? 'MQTT packet (middle)' : 'MQTT packet (start)', start: earlier ? 0 : open.start, end: data.length, label: type }], data.length),
          });
        } else extra++;
      }
    }
    if (desync || lost) lane.packet = null;

    let app: AppInfo | undefined;
    if (units.length === 1 && extra === 0) app = units[0]!; // the unit is this message's own: no copy
    else if (units.length > 1) {
      const total = units.length + extra;
      const shown = units.slice(0, 4).map((u) => u.summary);
      app = { ...units[0]!, parts: units, summary: `${total} packets: ${shown.join('; ')}${total > shown.length ? '; …' : ''}` };
    }
    if (app !== undefined && lost) app.summary += ' (message cut where a packet starts: the stream is followed again from the next message)';
    if (app !== undefined && spans !== undefined && spans.length > 0) app.spans = spans;
    if (app === undefined && violations.length === 0) return {};
    return violations.length > 0 ? { app, violations } : { app };
  }

  /** One complete packet: its fixed header's first byte and the first MAX_KEPT bytes after the Remaining Length. */
  private packet(first: number, body: Uint8Array, remaining: number, dir: Direction, nth: number, violations: AppRuleBroken[]): AppUnit {
    const typeNo = first >> 4;
    const flags = first & 0x0f;
    const type = TYPES[typeNo]!;
    const unit: AppUnit = { protocol: 'mqtt', type, packetType: type, summary: type };
    const r = new Reader(body, remaining);

    if (typeNo === 0 || (typeNo === 15 && this.version !== '5.0')) {
      this.broken(violations, 'mqtt-reserved-packet-type', '2.2.1 MQTT Control Packet type', '2.1.2 MQTT Control Packet type', `Packet type ${typeNo} is reserved${typeNo === 15 ? ' before MQTT 5.0 (AUTH)' : ''}: a receiver closes the connection.`);
      unit.summary = `reserved packet type ${typeNo}`;
      return unit;
    }
    const sender = SENDER[typeNo]!;
    const v5 = this.version === '5.0';
    if ((sender !== 'both' && sender !== dir) || (typeNo === 14 && !v5 && dir === 'server')) {
      this.broken(violations, 'mqtt-wrong-direction', '2.2.1 MQTT Control Packet type', '2.1.2 MQTT Control Packet type', `${type} is sent by the ${dir === 'client' ? 'server' : 'client'}, but the ${dir} sent it.`);
    }
    if (dir === 'client' && nth === 1 && typeNo !== 1) {
      this.broken(violations, 'mqtt-first-packet-not-connect', '3.1 CONNECT', '3.1 CONNECT', `The client's first packet is ${type}; it must be a CONNECT [MQTT-3.1.0-1].`);
    }
    const expectedFlags = typeNo === 6 || typeNo === 8 || typeNo === 10 ? 0b0010 : 0;
    if (typeNo !== 3 && flags !== expectedFlags) {
      this.broken(violations, 'mqtt-bad-flags', '2.2.2 Flags', '2.1.3 Flags', `${type}'s fixed header flags are ${flags.toString(2).padStart(4, '0')}; they must be ${expectedFlags.toString(2).padStart(4, '0')}.`);
    }

    switch (typeNo) {
      case 1: {
        this.connects++;
        if (this.connects > 1 && dir === 'client') this.broken(violations, 'mqtt-second-connect', '3.1 CONNECT', '3.1 CONNECT', 'A second CONNECT on the same connection: a protocol violation; the server closes the connection [MQTT-3.1.0-2].');
        const name = r.string();
        const level = r.u8();
        const connectFlags = r.u8();
        const keepAlive = r.u16();
        if (level === 3) this.version = '3.1';
        else if (level === 4) this.version = '3.1.1';
        else if (level === 5) this.version = '5.0';
        const clientId = level === 5 && r.properties() === null ? null : r.string();
        if (r.short) this.malformed(violations, type, remaining);
        const words = [type];
        if (clientId !== null) words.push(JSON.stringify(clientId.slice(0, 120)));
        if (name !== null && level !== null) words.push(`${name} level ${level}${level === 4 ? ' (3.1.1)' : level === 5 ? ' (5.0)' : ''}`);
        if (keepAlive !== null) words.push(`keep-alive ${keepAlive}s`);
        if (connectFlags !== null && connectFlags & 0x02) words.push(v5 || level === 5 ? 'clean start' : 'clean session');
        unit.summary = words.join(' ');
        break;
      }
      case 2: {
        const ack = r.u8();
        const code = r.u8();
        if (code === null) this.malformed(violations, type, remaining);
        else unit.summary = `${type} ${v5 ? (REASON_5[code] ?? `reason 0x${code.toString(16)}`) : (CONNACK_311[code] ?? `return code ${code}`)}${ack !== null && ack & 1 ? ', session present' : ''}`;
        break;
      }
      case 3: {
        const qos = (flags >> 1) & 3;
        if (qos === 3) this.broken(violations, 'mqtt-bad-qos', '3.3.1.2 QoS', '3.3.1.2 QoS', 'PUBLISH with both QoS bits set (QoS 3): a malformed packet [MQTT-3.3.1-4].');
        else unit.qos = qos as 0 | 1 | 2;
        // The decoder's pass needs the Topic Name only for the wildcard rule: it is decoded then only.
        const topic = this.replies !== null ? r.stringIfWildcard() : r.string();
        if (topic !== null) {
          unit.topic = topic;
          if (topic.includes('+') || topic.includes('#')) this.broken(violations, 'mqtt-publish-wildcard', '3.3.2.1 Topic Name', '3.3.2.1 Topic Name', `PUBLISH to "${topic.slice(0, 80)}": a Topic Name must not hold the wildcards + or # [MQTT-3.3.2-2].`);
        }
        if (qos === 1 || qos === 2) this.packetId(r, unit, type, violations);
        if (v5) r.properties();
        if (r.short) {
          this.malformed(violations, type, remaining);
          break;
        }
        // The decoder's pass over a clean message: the rules are checked; its replay shows the payload.
        if (this.replies !== null) break;
        const payload = r.rest();
        unit.payload = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('base64');
        const flagsText = `${(flags & 8) !== 0 ? ' dup' : ''}${(flags & 1) !== 0 ? ' retain' : ''}`;
        const size = remaining - (body.length - payload.length);
        this.payloadSize = size;
        const shownTopic = topic === null ? '?' : topic.length > 120 ? `${topic.slice(0, 120)}…` : topic;
        unit.summary = `${type} ${shownTopic}${qos !== 3 ? ` qos ${qos}` : ''}${unit.packetId !== undefined ? ` id ${unit.packetId}` : ''}${flagsText} ${preview(payload, size)}`;
        break;
      }
      case 4:
      case 5:
      case 6:
      case 7:
      case 11: {
        this.packetId(r, unit, type, violations);
        const code = v5 ? r.u8OrNull() : null;
        if (r.short) this.malformed(violations, type, remaining);
        unit.summary = `${type}${unit.packetId !== undefined ? ` id ${unit.packetId}` : ''}${code !== null && code !== 0 ? ` ${REASON_5[code] ?? `reason 0x${code.toString(16)}`}` : ''}`;
        break;
      }
      case 8:
      case 10: {
        this.packetId(r, unit, type, violations);
        if (v5) r.properties();
        const filters: string[] = [];
        let count = 0;
        while (!r.short && r.left() > 0) {
          const f = r.string();
          const opts = typeNo === 8 ? r.u8() : 0;
          if (f === null || opts === null) break;
          if (count === 0) {
            unit.topic = f;
            if (typeNo === 8 && (opts & 3) !== 3) unit.qos = (opts & 3) as 0 | 1 | 2;
          }
          const shown = f.length > 120 ? `${f.slice(0, 120)}…` : f;
          if (count < 8) filters.push(typeNo === 8 ? `${shown} qos ${opts & 3}` : shown);
          count++;
        }
        if (r.short) this.malformed(violations, type, remaining);
        unit.summary = `${type}${unit.packetId !== undefined ? ` id ${unit.packetId}` : ''} ${filters.join(', ')}${count > filters.length ? `, … (${count} filters)` : ''}`;
        break;
      }
      case 9: {
        this.packetId(r, unit, type, violations);
        if (v5) r.properties();
        const codes: string[] = [];
        while (!r.short && r.left() > 0 && codes.length < 8) {
          const c = r.u8()!;
          codes.push(c < 3 ? `granted qos ${c}` : v5 ? (REASON_5[c] ?? `0x${c.toString(16)}`) : 'failure');
        }
        unit.summary = `${type}${unit.packetId !== undefined ? ` id ${unit.packetId}` : ''} ${codes.join(', ')}`;
        break;
      }
      case 14:
      case 15: {
        const code = v5 ? r.u8OrNull() : null;
        if (code !== null && code !== 0) unit.summary = `${type} ${REASON_5[code] ?? `reason 0x${code.toString(16)}`}`;
        break;
      }
      default:
        break;
    }
    return unit;
  }

  /** An answer's `replyTo` (the packet it answers, in the other direction), and what now waits for one. */
  private link(unit: AppUnit, m: AppMessage): void {
    if (this.replayReplies !== null) {
      const ref = this.replayReplies[this.replayNext++];
      if (ref !== undefined) unit.replyTo = ref;
      return;
    }
    this.linkLive(unit, m);
    if (this.replies !== null) this.replies.push(unit.replyTo);
  }

  private linkLive(unit: AppUnit, m: AppMessage): void {
    const id = unit.packetId;
    if (id === undefined) return;
    const type = unit.type;
    if (ANSWERS.has(type)) {
      const theirs = this.waiting[m.dir === 'client' ? 'server' : 'client'];
      const ref = theirs.take(id);
      if (ref !== undefined) unit.replyTo = ref;
    }
    if (type === 'PUBREC' || type === 'PUBREL' || type === 'SUBSCRIBE' || type === 'UNSUBSCRIBE' || (type === 'PUBLISH' && (unit.qos === 1 || unit.qos === 2))) {
      this.waiting[m.dir].remember(id, m.ref);
    }
  }

  /**
   * A broken rule, its section in the version spoken. A method, not a closure made per packet:
   * the bench runs the wiretap through tsx, whose esbuild keeps function names, so each closure
   * made cost a defineProperty call; measured in test/bench/app-micro.ts, the two made per
   * packet were most of what MQTT's wiretap spent beyond a plain one (1.8 µs a round trip).
   */
  private broken(violations: AppRuleBroken[], rule: string, s311: string, s5: string, message: string): void {
    violations.push({ rule, section: this.section(s311, s5), message });
  }

  private malformed(violations: AppRuleBroken[], type: string, remaining: number): void {
    this.broken(violations, 'mqtt-malformed', '2.2.3 Remaining Length', '1.5.5 Variable Byte Integer', `The ${type} packet is shorter than its fields say (Remaining Length ${remaining}).`);
  }

  private packetId(r: Reader, unit: AppUnit, type: string, violations: AppRuleBroken[]): void {
    const id = r.u16();
    if (id === null) return;
    unit.packetId = id;
    if (id === 0) this.broken(violations, 'mqtt-packet-id-zero', '2.3.1 Packet Identifier', '2.2.1 Packet Identifier', `${type} has Packet Identifier 0; it must be non-zero [MQTT-2.3.1-1].`);
  }
}

/** Decoders that make `app` again (their own state reset each time), one per version a message began with. */
const REPLAYS: Record<MqttVersion, MqttDecoder> = { '3.1': new MqttDecoder('3.1'), '3.1.1': new MqttDecoder('3.1.1'), '5.0': new MqttDecoder('5.0') };

/** The maker of a message of at most one packet: `arg` is the frame of the packet it answers (sent the other way), or -1. */
function makerOf(v: MqttVersion): AppMaker {
  return (m, arg) => REPLAYS[v].replay(m, arg >= 0 ? [{ conn: m.ref.conn, dir: m.dir === 'client' ? 'server' : 'client', firstFrame: arg }] : []);
}
const MAKERS: Record<MqttVersion, AppMaker> = { '3.1': makerOf('3.1'), '3.1.1': makerOf('3.1.1'), '5.0': makerOf('5.0') };

/**
 * Reads the kept bytes of a packet. `short` is set when a field runs past the packet's end
 * (malformed); running past the kept bytes of a longer packet is not an error, the field is
 * just not known (null).
 */
class Reader {
  private i = 0;
  short = false;

  constructor(
    private readonly b: Uint8Array,
    private readonly remaining: number,
  ) {}

  left(): number {
    return this.b.length - this.i;
  }

  private need(n: number): boolean {
    if (this.i + n <= this.b.length) return true;
    // Past the packet's end (all of it was kept): malformed. Past the kept bytes only: unknown.
    if (this.b.length === this.remaining) this.short = true;
    this.i = this.b.length;
    return false;
  }

  u8(): number | null {
    return this.need(1) ? this.b[this.i++]! : null;
  }

  /** An optional trailing byte (MQTT 5 reason codes may be left out): null without error. */
  u8OrNull(): number | null {
    return this.i < this.b.length ? this.b[this.i++]! : null;
  }

  u16(): number | null {
    if (!this.need(2)) return null;
    const v = (this.b[this.i]! << 8) | this.b[this.i + 1]!;
    this.i += 2;
    return v;
  }

  /** A UTF-8 Encoded String: two length bytes, then the text. */
  string(): string | null {
    const n = this.u16();
    if (n === null || !this.need(n)) return null;
    const text = Buffer.from(this.b.buffer, this.b.byteOffset + this.i, n).toString('utf8');
    this.i += n;
    return text;
  }

  /**
   * A UTF-8 Encoded String decoded only when it holds a byte of + or # (in UTF-8 those bytes are
   * always those characters), else skipped: null when it is skipped or does not fit.
   */
  stringIfWildcard(): string | null {
    const n = this.u16();
    if (n === null || !this.need(n)) return null;
    const b = this.b;
    const end = this.i + n;
    for (let k = this.i; k < end; k++) {
      if (b[k] === 0x2b || b[k] === 0x23) {
        const text = Buffer.from(b.buffer, b.byteOffset + this.i, n).toString('utf8');
        this.i = end;
        return text;
      }
    }
    this.i = end;
    return null;
  }

  /** MQTT 5 properties: a Variable Byte Integer length, skipped; null when it does not fit. */
  properties(): number | null {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const b = this.u8();
      if (b === null) return null;
      v += (b & 0x7f) * 128 ** k;
      if ((b & 0x80) === 0) return this.need(v) ? ((this.i += v), v) : null;
    }
    this.short = true;
    return null;
  }

  rest(): Uint8Array {
    const r = this.b.subarray(this.i);
    this.i = this.b.length;
    return r;
  }
}

/** Layers inside the bytes a decoder saw (a cut message's end is not among them). */
function clip(layers: AppLayerSpan[], length: number): AppLayerSpan[] {
  return layers.filter((l) => l.start <= length).map((l) => (l.end > length ? { ...l, end: length } : l));
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(length);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function layersOf(unit: AppUnit, start: number, headerLength: number, end: number, payloadLength: number): AppLayerSpan[] {
  const layers: AppLayerSpan[] = [
    { name: 'MQTT packet', start, end, label: unit.type },
    { name: 'fixed header', start, end: start + headerLength, label: `${unit.type}, remaining length ${end - start - headerLength}` },
  ];
  if (unit.payload !== undefined) {
    layers.push({ name: 'variable header', start: start + headerLength, end: end - payloadLength, label: unit.topic ?? '' });
    layers.push({ name: 'payload', start: end - payloadLength, end, label: `${payloadLength} bytes` });
  } else if (end > start + headerLength) {
    layers.push({ name: 'variable header and payload', start: start + headerLength, end, label: unit.type });
  }
  return layers;
}

/** `"21.5"` for text, `<4 bytes: 00 01 02 03>` for anything else, with the size when cut. */
function preview(payload: Uint8Array, size: number): string {
  const head = Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.length, SUMMARY_PAYLOAD_CHARS * 4));
  // A character cut at the preview's end is left out, not taken for invalid UTF-8.
  const whole = head.subarray(0, incompleteTail(head));
  const text = isUtf8(whole) ? whole.toString('utf8') : null;
  // eslint-disable-next-line no-control-regex
  if (text !== null && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    const cut = text.length > SUMMARY_PAYLOAD_CHARS || size > head.length;
    return `${JSON.stringify(text.slice(0, SUMMARY_PAYLOAD_CHARS))}${cut ? `… (${size} bytes)` : ''}`;
  }
  const hex = Array.from(payload.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `<${size} bytes: ${hex}${size > 8 ? ' …' : ''}>`;
}
