import type { Direction, EndEvent, FrameEvent, HandshakeEvent, OpenEvent, WireEvent } from './events.ts';
import { ExportNotes } from './export-notes.ts';
import { recordedStart } from './wall-clock.ts';

/**
 * A recording as a pcapng capture (draft-tuexen-opsawg-pcapng) that Wireshark and tshark open
 * and dissect as HTTP then WebSocket.
 *
 * The wiretap records bytes, not packets, so the TCP/IP layer is synthesized: per connection a
 * three-way handshake at `open`, the client's request head and the server's response head
 * (`handshake.*.raw`, the exact bytes), then every frame exactly as on the wire (its header
 * bytes, then its payload masked again with its key), then FIN/ACK (or RST after a reset) at
 * `end`. Sequence numbers are the recorded stream offsets, so they are right even where the
 * recording misses bytes; acknowledgements follow what the other side has sent by then.
 * Links are Ethernet with zero MAC addresses, as a Linux loopback capture has them.
 *
 * What the recording cannot give back, and what this writer does about it (each case is also
 * said in a packet comment, which Wireshark shows under "Packet comments"):
 * - a payload cut at the preview bound (`truncated`, 64 KiB by default): the frame keeps its
 *   real length and the bytes past the preview are zeros. The header, every later frame and the
 *   sequence numbers stay right; only that payload's tail is made up. (Skipping the frame instead
 *   would leave a hole that Wireshark's reassembly cannot get past, losing the frames after it.)
 * - bytes the recording never had (an HTTP body past its 2 KiB preview, a connection whose start
 *   the dashboard's store already dropped): no packet carries them, so the sequence numbers jump
 *   and Wireshark says "previous segment not captured" — which is what happened.
 * - times: the recording has times relative to the wiretap's start, and on each open event the
 *   wall-clock time the connection was accepted (`wall`), which anchors them: t = 0 is at
 *   `wall - t`. A recording made before open events had `wall` is anchored at `startedAt` (epoch
 *   ms), an estimate. Packets are in time order across connections and directions.
 */

export interface PcapngOptions {
  /**
   * Wall-clock time (epoch milliseconds) of t = 0 in the recording, an estimate used only when
   * no open event carries `wall` (the recording's own clock, used when one does).
   */
  startedAt: number;
  /** Text for the section header's comment (what the file is, where it came from). */
  comment?: string;
  /**
   * The server's port as the client saw it (the wiretap's, e.g. 9900): the client's view. Unset,
   * each connection shows the server where the wiretap relayed to (its recorded target).
   */
  serverPort?: number;
}

export interface PcapngExport {
  /** Connections in the capture. */
  connections: number;
  /** Frames written (their bytes, possibly zero-filled). */
  frames: number;
  /** Things a person should know about this export, one sentence each. */
  notes: string[];
  /** The file, block by block; generated lazily so a large capture is never whole in memory. */
  chunks(): Generator<Buffer>;
}

/**
 * Zeros written in place of payload bytes the recording does not hold, for the whole export.
 * A frame may announce up to 2^63 bytes and keep a 64 KiB preview: what the export writes is
 * bounded by what the recording holds plus this, never by a number in the file. Past it, the
 * missing bytes are a gap (Wireshark: "previous segment not captured"), said in a comment.
 */
export const MAX_ZERO_FILL = 64 * 1024 * 1024;

/** Largest TCP payload in one packet: 65535 (the IPv4 total length limit) - 20 (IP) - 20 (TCP). */
export const MAX_SEGMENT = 65495;
/** The receiver acknowledges after this many unacknowledged bytes, like a delayed ACK every two segments. */
const ACK_EVERY = 2 * MAX_SEGMENT;
/** Window scale shift announced in the SYNs: 65535 << 7 ≈ 8 MiB, never filled given ACK_EVERY. */
const WINDOW_SHIFT = 7;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262144;

// ---------------------------------------------------------------------------------------------
// Blocks (little-endian; readers detect the byte order from the section header's magic)

const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_TSRESOL = 9;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Options: code, length, value padded to 32 bits; then opt_endofopt. Empty when there are none. */
function options(opts: Array<[code: number, value: Buffer]>): Buffer {
  if (opts.length === 0) return Buffer.alloc(0);
  const size = opts.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const b = Buffer.alloc(size);
  let p = 0;
  for (const [code, v] of opts) {
    b.writeUInt16LE(code, p);
    b.writeUInt16LE(v.length, p + 2);
    v.copy(b, p + 4);
    p += 4 + pad4(v.length);
  }
  b.writeUInt16LE(OPT_ENDOFOPT, p);
  return b;
}

/** A block: type, total length, body (padded to 32 bits), total length again. */
function block(type: number, body: Buffer[]): Buffer {
  const bodyLength = body.reduce((n, b) => n + b.length, 0);
  const total = 12 + pad4(bodyLength);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(total, 4);
  const tail = Buffer.alloc(4 + pad4(bodyLength) - bodyLength);
  tail.writeUInt32LE(total, tail.length - 4);
  return Buffer.concat([head, ...body, tail]);
}

function sectionHeader(comment: string | undefined): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0); // byte-order magic
  fixed.writeUInt16LE(1, 4); // major version
  fixed.writeUInt16LE(0, 6); // minor version
  fixed.writeBigInt64LE(-1n, 8); // section length: not given
  const opts: Array<[number, Buffer]> = [[SHB_USERAPPL, Buffer.from('wsplay', 'utf8')]];
  if (comment) opts.unshift([OPT_COMMENT, Buffer.from(comment, 'utf8')]);
  return block(0x0a0d0d0a, [fixed, options(opts)]);
}

function interfaceDescription(): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  fixed.writeUInt32LE(SNAPLEN, 4);
  // if_tsresol 6: timestamps in microseconds (also the default; said for readers that guess).
  return block(1, [fixed, options([[IF_NAME, Buffer.from('lo', 'utf8')], [IF_TSRESOL, Buffer.from([6])]])]);
}

function enhancedPacket(timestampUs: bigint, packet: Buffer, comment: string | undefined): Buffer {
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(0, 0); // interface 0
  fixed.writeUInt32LE(Number(timestampUs >> 32n), 4);
  fixed.writeUInt32LE(Number(timestampUs & 0xffffffffn), 8);
  fixed.writeUInt32LE(packet.length, 12);
  fixed.writeUInt32LE(packet.length, 16);
  const padding = Buffer.alloc(pad4(packet.length) - packet.length);
  return block(6, [fixed, packet, padding, options(comment ? [[OPT_COMMENT, Buffer.from(comment, 'utf8')]] : [])]);
}

// ---------------------------------------------------------------------------------------------
// Ethernet, IPv4, TCP

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;

/** The Internet checksum (RFC 1071) over `parts`, as if they were one buffer. */
function checksum(parts: Buffer[], initial = 0): number {
  let sum = initial;
  let odd = -1;
  for (const b of parts) {
    let i = 0;
    if (odd >= 0 && b.length > 0) {
      sum += (odd << 8) | b[0]!;
      odd = -1;
      i = 1;
    }
    for (; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (i < b.length) odd = b[i]!;
    // Fold now and then so the sum stays a small integer.
    if (sum > 0x7fffffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (odd >= 0) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface Endpoint {
  ip: Buffer;
  port: number;
}

interface TcpPacket {
  from: Endpoint;
  to: Endpoint;
  seq: number;
  ack: number;
  flags: number;
  ipId: number;
  payload: Buffer;
}

function ethernetTcp(p: TcpPacket): Buffer {
  const synOptions = p.flags & TCP_SYN;
  // SYN options: MSS, NOP, window scale (RFC 7323 §2.2); both SYNs carry them or scaling is off.
  const opts = synOptions ? Buffer.from([2, 4, MAX_SEGMENT >> 8, MAX_SEGMENT & 0xff, 1, 3, 3, WINDOW_SHIFT]) : Buffer.alloc(0);
  const tcpLength = 20 + opts.length + p.payload.length;
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcpLength, 2);
  ip.writeUInt16BE(p.ipId & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = 64; // TTL
  ip[9] = 6; // TCP
  p.from.ip.copy(ip, 12);
  p.to.ip.copy(ip, 16);
  ip.writeUInt16BE(checksum([ip]), 10);
  const tcp = Buffer.alloc(20 + opts.length);
  tcp.writeUInt16BE(p.from.port, 0);
  tcp.writeUInt16BE(p.to.port, 2);
  tcp.writeUInt32BE(p.seq >>> 0, 4);
  tcp.writeUInt32BE(p.flags & TCP_ACK ? p.ack >>> 0 : 0, 8);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = p.flags;
  tcp.writeUInt16BE(0xffff, 14); // window (scaled by WINDOW_SHIFT after the handshake)
  opts.copy(tcp, 20);
  const pseudo = Buffer.alloc(12);
  p.from.ip.copy(pseudo, 0);
  p.to.ip.copy(pseudo, 4);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(tcpLength, 10);
  tcp.writeUInt16BE(checksum([pseudo, tcp, p.payload]), 16);
  return Buffer.concat([eth, ip, tcp, p.payload]);
}

// ---------------------------------------------------------------------------------------------
// From events to byte pieces, per direction

/** A run of one direction's stream: `length` bytes from stream `offset`, arriving from t to tEnd. */
interface Piece {
  offset: number;
  length: number;
  t: number;
  tEnd: number;
  /** The wire bytes [from, to) of this piece (relative to its start). */
  bytes(from: number, to: number): Buffer;
  /** Said in the comment of the piece's first packet. */
  note?: string;
  /** Payload bytes past the recorded preview, written as zeros. */
  zeros?: number;
  /** Payload bytes past the recorded preview not written at all (the zero-fill bound was reached). */
  unwritten?: number;
}

function bufferPiece(offset: number, data: Buffer, t: number, note?: string): Piece {
  return { offset, length: data.length, t, tEnd: t, bytes: (from, to) => data.subarray(from, to), ...(note ? { note } : {}) };
}

/**
 * A frame's bytes as they crossed the wire: the recorded header, then the payload masked again
 * with the frame's key. Past the recorded preview the (unmasked) payload is zeros.
 */
function framePiece(f: FrameEvent, limit: number | null, fill: { left: number }): Piece {
  const header = Buffer.from(f.header, 'hex');
  const payload = Buffer.from(f.payload, 'base64');
  const key = f.masked && f.maskKey ? Buffer.from(f.maskKey, 'hex') : null;
  const announced = f.lengthExact !== undefined ? Number.MAX_SAFE_INTEGER : f.length;
  // A frame ends where the next one starts, or the stream does: a frame cut by the end of the
  // connection carried only what arrived (and a damaged line cannot make us write petabytes).
  let payloadOnWire = limit === null ? (f.complete === false ? payload.length : announced) : Math.min(announced, limit - f.offset - header.length);
  payloadOnWire = Math.max(payloadOnWire, payload.length);
  const wanted = payloadOnWire - payload.length;
  const filled = Math.min(wanted, fill.left);
  fill.left -= filled;
  const unwritten = wanted - filled;
  const dir = f.dir === 'client' ? 'client → server' : 'server → client';
  const note =
    wanted > 0
      ? `wsplay: frame #${f.seq} (${dir}) announces ${payloadOnWire} payload bytes; the recording kept the first ${payload.length} (its preview bound), so ${
          unwritten === 0
            ? `the other ${filled} are zeros here, not what was sent.`
            : `${filled > 0 ? `the next ${filled} are zeros here and ` : ''}the last ${unwritten} are not in this capture (the export writes at most ${MAX_ZERO_FILL / 1024 / 1024} MiB of zeros in all).`
        }`
      : undefined;
  return {
    offset: f.offset,
    length: header.length + payload.length + filled,
    ...(unwritten > 0 ? { unwritten } : {}),
    t: f.t,
    tEnd: f.tEnd,
    ...(note ? { note, zeros: wanted } : {}),
    bytes(from, to) {
      const out = Buffer.alloc(to - from);
      for (let i = from; i < to; i++) {
        if (i < header.length) {
          out[i - from] = header[i]!;
          continue;
        }
        const j = i - header.length;
        const b = j < payload.length ? payload[j]! : 0;
        out[i - from] = key ? b ^ key[j & 3]! : b;
      }
      return out;
    },
  };
}

interface ConnectionEvents {
  conn: number;
  open: OpenEvent | null;
  handshake: HandshakeEvent | null;
  frames: FrameEvent[];
  end: EndEvent | null;
  firstT: number;
}

function groupByConnection(events: WireEvent[]): ConnectionEvents[] {
  const byConn = new Map<number, ConnectionEvents>();
  for (const e of events) {
    let c = byConn.get(e.conn);
    if (!c) {
      c = { conn: e.conn, open: null, handshake: null, frames: [], end: null, firstT: e.t };
      byConn.set(e.conn, c);
    }
    c.firstT = Math.min(c.firstT, e.t);
    if (e.type === 'open') c.open ??= e;
    // The first handshake is the upgrade (or the first request of a plain HTTP connection).
    else if (e.type === 'handshake') c.handshake ??= e;
    else if (e.type === 'frame') c.frames.push(e);
    else if (e.type === 'end') c.end ??= e;
  }
  return [...byConn.values()];
}

/** `host:port` → IPv4 bytes (127.0.0.1 unless the host is an IPv4 literal) and the port. */
function endpoint(address: string | undefined, fallbackPort: number): Endpoint {
  const m = address ? /^(?:\[?(?:::ffff:)?)?([^\]]*?)\]?:(\d+)$/i.exec(address) : null;
  const host = m?.[1] ?? '';
  const port = m ? Number(m[2]) : fallbackPort;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  const ip = v4 && v4.slice(1).every((x) => Number(x) <= 255) ? Buffer.from(v4.slice(1).map(Number)) : Buffer.from([127, 0, 0, 1]);
  return { ip, port: port > 0 && port < 65536 ? port : fallbackPort };
}

/** Deterministic initial sequence numbers (the same recording exports to the same bytes). */
function isn(conn: number, dir: Direction): number {
  let x = (conn * 2654435761 + (dir === 'client' ? 0x1234567 : 0x7654321)) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d) >>> 0;
  return (x ^ (x >>> 12)) >>> 0;
}

/** One planned packet: what it carries is decided now, sequence numbers when written. */
interface Planned {
  t: number;
  conn: ConnectionPlan;
  dir: Direction;
  kind: 'syn' | 'syn-ack' | 'ack' | 'data' | 'fin' | 'rst';
  /** Data: stream offset and length, and where the bytes come from. */
  offset: number;
  length: number;
  piece: Piece | null;
  pieceFrom: number;
  comment?: string;
}

interface ConnectionPlan {
  conn: number;
  ends: Record<Direction, Endpoint>;
  isn: Record<Direction, number>;
  /** Stream bytes per direction (the end event's count, else the last piece's end). */
  total: Record<Direction, number>;
  /** While writing: highest stream offset sent so far (relative), per direction. */
  sent: Record<Direction, number>;
  /** While writing: what each side has acknowledged of the other's stream. */
  acked: Record<Direction, number>;
  /** FINs sent so far, per direction (a FIN takes one sequence number). */
  fin: Record<Direction, number>;
  ipId: Record<Direction, number>;
}

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

function piecesOf(c: ConnectionEvents, dir: Direction, fill: { left: number }): Piece[] {
  const pieces: Piece[] = [];
  const hs = c.handshake;
  const streamEnd = c.end ? c.end.bytes[dir] : null;
  const head = dir === 'client' ? hs?.request : hs?.response;
  if (head) {
    const raw = Buffer.from(head.raw, 'base64');
    pieces.push(bufferPiece(0, raw, head.t));
    const body = dir === 'server' ? hs?.response?.body : undefined;
    // The body preview is text: only bytes that survived decoding as UTF-8 can be given back.
    if (body && !body.includes('\ufffd')) {
      const bytes = Buffer.from(body, 'utf8');
      if (streamEnd === null || raw.length + bytes.length <= streamEnd) pieces.push(bufferPiece(raw.length, bytes, head.t));
    }
  }
  const frames = c.frames.filter((f) => f.dir === dir).sort((a, b) => a.offset - b.offset);
  frames.forEach((f, i) => pieces.push(framePiece(f, frames[i + 1]?.offset ?? streamEnd, fill)));
  pieces.sort((a, b) => a.offset - b.offset);
  return pieces;
}

function planConnection(
  c: ConnectionEvents,
  fallbackServerPort: number,
  notes: ExportNotes,
  fill: { left: number },
  serverPort?: number,
): { plan: ConnectionPlan; packets: Planned[] } {
  const target = endpoint(c.open?.target, fallbackServerPort);
  const ends = {
    client: endpoint(c.open?.client, 40000 + (c.conn % 20000)),
    server: serverPort ? { ...target, port: serverPort } : target,
  };
  if (!c.open) {
    notes.add(
      'no open',
      `Connection ${c.conn}: its open event is not in the recording, so its ports are made up (client ${ends.client.port}, server ${ends.server.port}).`,
      (n) => `${n} more connections have no open event in the recording; their ports are made up too.`,
    );
  }
  const plan: ConnectionPlan = {
    conn: c.conn,
    ends,
    isn: { client: isn(c.conn, 'client'), server: isn(c.conn, 'server') },
    total: { client: 0, server: 0 },
    sent: { client: 0, server: 0 },
    acked: { client: 0, server: 0 },
    fin: { client: 0, server: 0 },
    ipId: { client: (c.conn * 7919) & 0xffff, server: (c.conn * 104729) & 0xffff },
  };
  const t0 = c.open?.t ?? c.firstT;
  const packets: Planned[] = [];
  const control = (t: number, dir: Direction, kind: Planned['kind']): Planned => ({ t, conn: plan, dir, kind, offset: 0, length: 0, piece: null, pieceFrom: 0 });
  packets.push(control(t0, 'client', 'syn'), control(t0, 'server', 'syn-ack'), control(t0, 'client', 'ack'));
  let last = t0;
  let filled = 0;
  for (const dir of ['client', 'server'] as const) {
    let covered = 0;
    let missing = 0;
    let unwritten = 0;
    let tPrev = t0;
    const sends: Planned[] = [];
    for (const piece of piecesOf(c, dir, fill)) {
      // Overlapping bytes (a piece that repeats what an earlier one carried) are sent once.
      const skip = Math.max(0, covered - piece.offset);
      if (skip >= piece.length) continue;
      const gap = piece.offset - covered;
      let comment = piece.note;
      if (piece.zeros) filled++;
      if (piece.unwritten) unwritten += piece.unwritten;
      if (gap > 0) {
        missing += gap;
        const what = `wsplay: ${gap} bytes ${dir === 'client' ? 'client → server' : 'server → client'} before this packet are not in the recording.`;
        comment = comment ? `${what} ${comment}` : what;
      }
      // Times within a direction never go back, or Wireshark would see segments out of order.
      const t = Math.max(piece.t, tPrev);
      const tEnd = Math.max(piece.tEnd, t);
      for (let from = skip; from < piece.length; from += MAX_SEGMENT) {
        const to = Math.min(piece.length, from + MAX_SEGMENT);
        sends.push({
          t: t + ((tEnd - t) * (to - skip)) / (piece.length - skip),
          conn: plan,
          dir,
          kind: 'data',
          offset: piece.offset + from,
          length: to - from,
          piece,
          pieceFrom: from,
          ...(from === skip && comment ? { comment } : {}),
        });
      }
      covered = piece.offset + piece.length;
      tPrev = tEnd;
    }
    plan.total[dir] = Math.max(covered, c.end?.bytes[dir] ?? 0);
    missing += plan.total[dir] - covered;
    // Bytes the export chose not to make up (past MAX_ZERO_FILL) are a gap too, said apart.
    missing -= Math.min(missing, unwritten);
    if (missing > 0) {
      notes.add(
        'missing bytes',
        `Connection ${c.conn}: ${missing} bytes ${dir === 'client' ? 'client → server' : 'server → client'} are not in the recording (events it lacks, or an HTTP body past its preview); no packet carries them, and Wireshark shows "previous segment not captured".`,
        (n) => `${n} more connection directions miss bytes the recording does not hold; no packet carries them either.`,
      );
    }
    if (unwritten > 0) {
      notes.add(
        'zero-fill bound',
        `Connection ${c.conn}: ${unwritten} payload bytes ${dir === 'client' ? 'client → server' : 'server → client'} past the recording's previews are left out (the export writes at most ${MAX_ZERO_FILL / 1024 / 1024} MiB of zeros in all); Wireshark shows "previous segment not captured" there.`,
        (n) => `${n} more connection directions have payload bytes left out past the zero-fill bound.`,
      );
    }
    last = Math.max(last, tPrev);
    packets.push(...sends);
  }
  if (filled > 0) {
    notes.add(
      'zero-filled',
      `Connection ${c.conn}: ${filled} frame${filled === 1 ? '' : 's'} had ${filled === 1 ? 'its' : 'their'} payload cut at the recording's preview bound; the missing bytes are zeros in the capture (see the packet comments).`,
      (n) => `${n} more connections have frames cut at the preview bound, zero-filled the same way.`,
    );
  }
  if (c.end) {
    const t = Math.max(c.end.t, last);
    const error = c.end.error ?? '';
    // Who reset: the socket that reported the error (`client ECONNRESET`), else the server side
    // stands for the wiretap (target unreachable, tap stopped).
    const resetBy: Direction | null = /^client /.test(error) ? 'client' : /^server /.test(error) || error !== '' || c.end.by === 'wiretap' ? 'server' : null;
    if (resetBy) {
      packets.push(control(t, resetBy, 'rst'));
    } else {
      const first: Direction = c.end.by === 'server' ? 'server' : 'client';
      packets.push(control(t, first, 'fin'), control(t, other(first), 'fin'), control(t, first, 'ack'));
    }
  }
  return { plan, packets };
}

/** Plan the capture of `events`; `chunks()` writes it. */
export function exportPcapng(events: WireEvent[], opts: PcapngOptions): PcapngExport {
  const connections = groupByConnection(events);
  const notes = new ExportNotes();
  const fill = { left: MAX_ZERO_FILL };
  const targetPorts = connections.map((c) => (c.open ? endpoint(c.open.target, 0).port : 0)).filter((p) => p > 0);
  const fallbackServerPort = targetPorts[0] ?? 80;
  const packets: Planned[] = [];
  for (const c of connections) packets.push(...planConnection(c, fallbackServerPort, notes, fill, opts.serverPort).packets);
  // Stable: packets of one connection keep their planned order when times are equal.
  packets.sort((a, b) => a.t - b.t);
  const frames = connections.reduce((n, c) => n + c.frames.length, 0);
  const startUs = BigInt(Math.round((recordedStart(events) ?? opts.startedAt) * 1000));

  function* chunks(): Generator<Buffer> {
    yield sectionHeader(opts.comment);
    yield interfaceDescription();
    for (const p of packets) {
      const c = p.conn;
      const peer = other(p.dir);
      const seqBase = (c.isn[p.dir] + 1) >>> 0;
      const ackOf = (d: Direction) => (c.isn[d] + 1 + c.sent[d] + c.fin[d]) >>> 0;
      const out: TcpPacket[] = [];
      const packet = (flags: number, seq: number, payload: Buffer = Buffer.alloc(0)): TcpPacket => ({
        from: c.ends[p.dir],
        to: c.ends[peer],
        seq,
        ack: ackOf(peer),
        flags,
        ipId: c.ipId[p.dir]++,
        payload,
      });
      switch (p.kind) {
        case 'syn':
          out.push({ ...packet(TCP_SYN, c.isn.client), ack: 0 });
          break;
        case 'syn-ack':
          out.push({ ...packet(TCP_SYN | TCP_ACK, c.isn.server), ack: (c.isn.client + 1) >>> 0 });
          break;
        case 'ack':
          out.push(packet(TCP_ACK, (seqBase + c.sent[p.dir] + c.fin[p.dir]) >>> 0));
          break;
        case 'data': {
          const payload = p.piece!.bytes(p.pieceFrom, p.pieceFrom + p.length);
          c.acked[p.dir] = c.sent[peer];
          out.push(packet(TCP_PSH | TCP_ACK, (seqBase + p.offset) >>> 0, payload));
          c.sent[p.dir] = Math.max(c.sent[p.dir], p.offset + p.length);
          // The receiver acknowledges every two full segments, as delayed ACK does.
          if (c.sent[p.dir] - c.acked[peer] >= ACK_EVERY) {
            c.acked[peer] = c.sent[p.dir];
            out.push({
              from: c.ends[peer],
              to: c.ends[p.dir],
              seq: (c.isn[peer] + 1 + c.sent[peer]) >>> 0,
              ack: ackOf(p.dir),
              flags: TCP_ACK,
              ipId: c.ipId[peer]++,
              payload: Buffer.alloc(0),
            });
          }
          break;
        }
        case 'fin':
        case 'rst': {
          // The stream's full length, gaps included: the FIN comes after every byte sent.
          c.sent[p.dir] = Math.max(c.sent[p.dir], c.total[p.dir]);
          c.sent[peer] = Math.max(c.sent[peer], c.total[peer]);
          out.push(packet((p.kind === 'fin' ? TCP_FIN : TCP_RST) | TCP_ACK, (seqBase + c.sent[p.dir]) >>> 0));
          if (p.kind === 'fin') c.fin[p.dir] = 1;
          break;
        }
      }
      // Before 1970 cannot be written (pcapng timestamps are unsigned): such a clock is shown at 0.
      const us = startUs + BigInt(Math.round(p.t * 1000));
      const ts = us < 0n ? 0n : us;
      for (let i = 0; i < out.length; i++) yield enhancedPacket(ts, ethernetTcp(out[i]!), i === 0 ? p.comment : undefined);
    }
  }

  return { connections: connections.length, frames, notes: notes.list(), chunks };
}
