import type { FrameEvent } from '../../../server/capture/events.ts';

/**
 * Fan-outs for the sequence diagram: one client message passed on by the server, the same
 * message to several connections (a broadcast, lesson 08). Kept apart from the component so
 * the rule can be tested without a DOM.
 *
 * What is NOT a fan-out, though it looks like one by timing alone:
 * - the greeting a server sends a connection that has just opened (it answers the handshake,
 *   not the client message that happened to come a moment before);
 * - two different messages that went out at about the same time (an answer to the sender and a
 *   greeting to a newcomer): a fan-out repeats one message, so frames are grouped by content.
 */

/**
 * Server frames that start within this many ms after a client message ends can be that
 * message's fan-out. On loopback a broadcast to a handful of peers takes well under a
 * millisecond, but the wiretap stamps each connection's bytes when it reads them, and on a busy
 * machine reads of one broadcast can be tens of milliseconds apart. The window can be generous:
 * frames are grouped by content (the same bytes) and only until the next client message, so it
 * does not pull in replies to unrelated traffic.
 */
export const FANOUT_WINDOW_MS = 500;

/**
 * A connection's first server frame this soon after its 101 is its greeting. Kept short: a
 * greeting that comes later is still told apart by its content (it is not the client's message).
 */
export const GREETING_WINDOW_MS = 10;

/** What the rule needs of a diagram row. */
export interface FanOutRow {
  id: string;
  kind: string;
  conn: number;
  t: number;
  frame?: FrameEvent;
}

export interface FoundFanOut {
  /** Index of the client message's row and of the last row of the fan-out. */
  src: number;
  end: number;
  /** Connections other than the sender that got the message. */
  peers: number;
  /** The same message went back to the sender too. */
  toSender: boolean;
  spanMs: number;
  /** Row ids of the client message and of the server frames that repeat it. */
  members: Set<string>;
}

const isDataFrame = (r: FanOutRow): boolean => r.kind === 'frame' && r.frame !== undefined && r.frame.opcode <= 2;
/** Two frames carry the same message when kind and bytes agree. */
const contentKey = (f: FrameEvent): string => `${f.opcode === 2 ? 'b' : 't'}:${f.length}:${f.payload}`;

interface Candidate {
  index: number;
  id: string;
  conn: number;
  t: number;
  key: string;
}

export function findFanOuts(rows: readonly FanOutRow[]): FoundFanOut[] {
  const found: FoundFanOut[] = [];
  /** When each connection's handshake was answered (its 101), and which ones the server has sent data on. */
  const upgradedAt = new Map<number, number>();
  const served = new Set<number>();
  let cur: { src: number; id: string; conn: number; tEnd: number; key: string | null; candidates: Candidate[] } | null = null;

  const flush = () => {
    if (!cur || cur.candidates.length === 0) return;
    const groups = new Map<string, Candidate[]>();
    for (const c of cur.candidates) {
      const g = groups.get(c.key);
      // One frame per connection: a second copy on the same connection is another message.
      if (g) {
        if (!g.some((x) => x.conn === c.conn)) g.push(c);
      } else groups.set(c.key, [c]);
    }
    let best: { group: Candidate[]; peers: number; toSender: boolean } | null = null;
    for (const [key, group] of groups) {
      const peers = group.filter((c) => c.conn !== cur!.conn).length;
      const toSender = group.some((c) => c.conn === cur!.conn);
      // The same message to several connections; or passed on, unchanged, to the one other peer there is.
      const fans = peers > 0 && (group.length >= 2 || key === cur.key);
      if (fans && (!best || group.length > best.group.length)) best = { group, peers, toSender };
    }
    if (!best) return;
    const members = new Set([cur.id, ...best.group.map((c) => c.id)]);
    const end = Math.max(...best.group.map((c) => c.index));
    const lastT = Math.max(...best.group.map((c) => c.t));
    found.push({ src: cur.src, end, peers: best.peers, toSender: best.toSender, spanMs: Math.max(0, lastT - cur.tEnd), members });
  };

  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.kind === 'response') {
      upgradedAt.set(r.conn, r.t);
      continue;
    }
    if (!isDataFrame(r)) continue;
    const f = r.frame!;
    if (f.dir === 'client') {
      if (!f.fin) continue;
      flush();
      // A continuation frame's bytes are only the message's tail: it cannot be compared whole.
      cur = { src: i, id: r.id, conn: f.conn, tEnd: f.tEnd, key: f.opcode === 0 ? null : contentKey(f), candidates: [] };
      continue;
    }
    const first = !served.has(f.conn);
    served.add(f.conn);
    if (!cur || f.t - cur.tEnd > FANOUT_WINDOW_MS || f.t < cur.tEnd - 1) continue;
    // A connection's first server frame right after its 101 is its greeting, not a message passed on.
    const up = upgradedAt.get(f.conn);
    if (f.conn !== cur.conn && first && up !== undefined && (up >= cur.tEnd - 1 || f.t - up <= GREETING_WINDOW_MS)) continue;
    if (f.opcode === 0) continue;
    cur.candidates.push({ index: i, id: r.id, conn: f.conn, t: f.t, key: contentKey(f) });
  }
  flush();
  return found;
}
