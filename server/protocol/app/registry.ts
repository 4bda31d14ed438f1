/**
 * Which decoder reads a connection, by the subprotocol its handshake negotiated
 * (Sec-WebSocket-Protocol, compared without case). Protocols recognized without a subprotocol
 * (Socket.IO by its handshake path, JSON-RPC by its first messages) are chosen elsewhere
 * (server/protocol/app/select.ts).
 */
import type { AppDecoderFactory } from './decoder.ts';
import { graphqlTransportWs, graphqlWsLegacy } from './graphql.ts';
import { mqttDecoder } from './mqtt.ts';
import { stompDecoder } from './stomp.ts';

export const BY_SUBPROTOCOL: ReadonlyMap<string, AppDecoderFactory> = new Map<string, AppDecoderFactory>([
  // One line per subprotocol, e.g. ['graphql-transport-ws', graphqlTransportWs],
  ['graphql-transport-ws', graphqlTransportWs],
  // subscriptions-transport-ws's protocol, not the graphql-ws library's (that one is above).
  ['graphql-ws', graphqlWsLegacy],
  // STOMP: the version the subprotocol names, until the CONNECTED frame says which was agreed.
  ['v10.stomp', () => stompDecoder('1.0')],
  ['v11.stomp', () => stompDecoder('1.1')],
  ['v12.stomp', () => stompDecoder('1.2')],
  ['stomp', () => stompDecoder('1.0')],
  // MQTT: 3.1.1 (or 5.0, as the CONNECT's protocol level says) and 3.1.
  ['mqtt', () => mqttDecoder('3.1.1')],
  ['mqttv3.1', () => mqttDecoder('3.1')],
]);
