import createDebug from 'debug';
import type { WireEvent } from './events.ts';
import { describeEvent } from './describe.ts';
import { materialize } from './materialize.ts';

/**
 * Socket-level logging through `debug`: `DEBUG=wsplay:*` prints one line per event.
 * Namespaces: wsplay:conn (open, handshake, end), wsplay:frame, wsplay:message (messages,
 * pings, pongs, closes), wsplay:violation (violations and insights). Lines are only formatted when their namespace is on.
 */
const ns = {
  conn: createDebug('wsplay:conn'),
  frame: createDebug('wsplay:frame'),
  message: createDebug('wsplay:message'),
  violation: createDebug('wsplay:violation'),
};

const NAMESPACE: Record<WireEvent['type'], keyof typeof ns> = {
  open: 'conn',
  handshake: 'conn',
  end: 'conn',
  frame: 'frame',
  message: 'message',
  ping: 'message',
  pong: 'message',
  close: 'message',
  violation: 'violation',
  appViolation: 'violation',
  insight: 'violation',
};

export function logEvents(events: WireEvent[]): void {
  // The common case, logging off: one check per batch, not one per event.
  if (!ns.conn.enabled && !ns.frame.enabled && !ns.message.enabled && !ns.violation.enabled) return;
  for (const e of events) {
    const d = ns[NAMESPACE[e.type]];
    if (d.enabled) d('%s', describeEvent(materialize(e)));
  }
}
