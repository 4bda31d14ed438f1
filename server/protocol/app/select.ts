/**
 * Which application-protocol decoder reads a connection, from its handshake:
 * 1. the subprotocol the server picked (Sec-WebSocket-Protocol), by BY_SUBPROTOCOL;
 * 2. else Engine.IO (Socket.IO) by the request's query: `EIO=` and `transport=websocket`, on any
 *    path (`/socket.io/` is only the default);
 * 3. else, with no subprotocol at all, JSON-RPC may be recognized from the first messages
 *    (`detect`: the stage looks at them, select.ts never guesses from the handshake).
 */
import type { HttpRequestHead } from '../../capture/events.ts';
import type { AppDecoder } from './decoder.ts';
import { BY_SUBPROTOCOL } from './registry.ts';
import { SocketIoDecoder } from './socketio.ts';

/** Engine.IO's query parameters, as a client sends them on every request of a session. */
export interface EngineIoQuery {
  /** Engine.IO protocol revision (4 for Socket.IO 3 and 4, 3 for Socket.IO 2). */
  eio: number;
  transport: 'websocket' | 'polling' | string;
  /** The session id: present when the client already has a session (polling requests, the upgrade). */
  sid: string | null;
}

/** The longest query read for Engine.IO's parameters (a request head is bounded anyway). */
const QUERY_BYTES = 2048;

/** Engine.IO's parameters from a request path, or null when it carries none. */
export function engineIoQuery(path: string): EngineIoQuery | null {
  const q = path.indexOf('?');
  if (q < 0 || !path.includes('EIO=', q)) return null;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(path.slice(q + 1, q + 1 + QUERY_BYTES));
  } catch {
    return null;
  }
  const eio = Number(params.get('EIO'));
  const transport = params.get('transport');
  if (!Number.isInteger(eio) || eio < 1 || eio > 9 || !transport) return null;
  return { eio, transport, sid: params.get('sid') };
}

export type Selection = { decoder: AppDecoder } | 'detect' | null;

/** The decoder for an upgraded connection, `detect` (look at the first messages), or null (none). */
export function selectForUpgrade(subprotocol: string | null, request: HttpRequestHead | null): Selection {
  if (subprotocol) {
    const factory = BY_SUBPROTOCOL.get(subprotocol.toLowerCase());
    if (factory) return { decoder: factory() };
  }
  const eio = request ? engineIoQuery(request.path) : null;
  if (eio && eio.transport === 'websocket') return { decoder: new SocketIoDecoder(eio) };
  return subprotocol ? null : 'detect';
}
