/**
 * The application protocols the bench puts through the wiretap (test/bench/app-protocols.ts),
 * one workload each: what a client sends on a connection, and what a server of that protocol
 * answers (the bench's target, test/bench/app-target.ts, answers with `reply`). Each is a small
 * message of the kind the protocol carries most (a chat line of ~20 bytes in its envelope), so
 * the bench compares the decoding of each protocol on the same load as the plain echo.
 *
 * A workload also has an `opening`: the messages a real client and server exchange before
 * their traffic (GraphQL's connection_init, STOMP's CONNECT and SUBSCRIBE, MQTT's CONNECT and
 * SUBSCRIBE), so the decoders see a connection as the libraries make it and report no broken
 * rule. The target answers each with `reply` too.
 */

/** What one side sends: text, or bytes for a binary message. */
export type Payload = string | Buffer;

export interface AppWorkload {
  name: string;
  /** The request path (Engine.IO's query for Socket.IO); the target tells workloads apart by it. */
  path: string;
  /** Sec-WebSocket-Protocol the client offers (the target picks it). */
  subprotocol?: string;
  /** What the server sends first, as soon as the connection opens (Engine.IO's open packet). */
  greeting?: Payload;
  /** Sent one at a time before the load, each waiting for its answer. */
  opening: Payload[];
  /** The client's nth message of the load. */
  message: (n: number) => Payload;
  /** The server's answer to a client message (the same for the opening's messages, which get one message each). */
  reply: (data: Buffer, binary: boolean) => Payload | Payload[];
  /** Messages the server answers each message of the load with (1 unless said); the last ends the round trip. */
  replies?: number;
}

/** ~20 bytes of text, as a chat line or a small JSON update. */
export const LINE = 'hello wiretap 012345';

const echo = (data: Buffer, binary: boolean): Payload => (binary ? data : data.toString('utf8'));

/** The text between `before` and the next `after`, found without parsing (the target stays cheap). */
function between(text: string, before: string, after: string): string {
  const i = text.indexOf(before);
  if (i < 0) return '';
  const from = i + before.length;
  const to = text.indexOf(after, from);
  return text.slice(from, to < 0 ? text.length : to);
}

// ---- MQTT 3.1.1 packets (OASIS MQTT 3.1.1, section 3) ----------------------------------------

function mqttString(s: string): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(s));
  b.writeUInt16BE(b.length - 2, 0);
  b.write(s, 2);
  return b;
}

/** A control packet: its first byte, the remaining length (< 128 here: one byte), the rest. */
function mqttPacket(first: number, ...parts: Buffer[]): Buffer {
  const rest = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([first, rest.length]), rest]);
}

const MQTT_CONNECT = mqttPacket(0x10, mqttString('MQTT'), Buffer.from([4, 0x02, 0, 60]), mqttString('bench'));
const MQTT_CONNACK = Buffer.from([0x20, 2, 0, 0]);
const MQTT_SUBSCRIBE = mqttPacket(0x82, Buffer.from([0, 1]), mqttString('chat'), Buffer.from([0]));
const MQTT_SUBACK = Buffer.from([0x90, 3, 0, 1, 0]);
/** PUBLISH, QoS 0: the broker forwards the same packet to the subscriber. */
const MQTT_PUBLISH = mqttPacket(0x30, mqttString('chat'), Buffer.from(LINE));

// ---- the workloads ----------------------------------------------------------------------------

export const PLAIN: AppWorkload = { name: 'plain', path: '/', opening: [], message: () => LINE, reply: echo };

export const APP_WORKLOADS: AppWorkload[] = [
  // The same load with no protocol on top: what the wiretap costs without decoding any.
  PLAIN,
  // An EVENT with a short argument; a server emits its events in the same form.
  // Engine.IO's open packet, the client's CONNECT to the main namespace and its answer first.
  {
    name: 'socket.io',
    path: '/socket.io/?EIO=4&transport=websocket',
    greeting: '0{"sid":"bench-session","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}',
    opening: ['40'],
    message: () => `42["chat","${LINE}"]`,
    reply: (data) => (data.length === 2 && data[1] === 0x30 ? '40{"sid":"bench-socket"}' : data.toString('utf8')),
  },
  // A request with a new id each time, answered by a response with that id (replyTo).
  {
    name: 'json-rpc',
    path: '/rpc',
    opening: [],
    message: (n) => `{"jsonrpc":"2.0","method":"chat","params":["${LINE}"],"id":${n}}`,
    reply: (data) => `{"jsonrpc":"2.0","result":"${LINE}","id":${between(data.toString('latin1'), '"id":', '}')}}`,
  },
  // graphql-ws's protocol as its client runs a mutation per chat line: init and ack, then a
  // subscribe (the mutation, with a new id) answered by its result (next) and complete, which
  // ends the operation (graphql-ws's PROTOCOL.md, "Single result operation").
  {
    name: 'graphql',
    path: '/graphql',
    subprotocol: 'graphql-transport-ws',
    opening: ['{"type":"connection_init"}'],
    message: (n) => `{"id":"${n}","type":"subscribe","payload":{"query":"mutation Chat($line: String!) { chat(line: $line) }","variables":{"line":"${LINE}"}}}`,
    replies: 2,
    reply: (data) => {
      const text = data.toString('utf8');
      if (text.includes('"connection_init"')) return '{"type":"connection_ack"}';
      const id = between(text, '"id":"', '"');
      return [`{"id":"${id}","type":"next","payload":{"data":{"chat":"${LINE}"}}}`, `{"id":"${id}","type":"complete"}`];
    },
  },
  // STOMP 1.2 as stompjs speaks it: CONNECT, SUBSCRIBE, then SENDs, each delivered as a MESSAGE.
  {
    name: 'stomp',
    path: '/stomp',
    subprotocol: 'v12.stomp',
    opening: ['CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0', 'SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nreceipt:r-0\n\n\0'],
    message: () => `SEND\ndestination:/topic/chat\ncontent-type:text/plain\ncontent-length:${LINE.length}\n\n${LINE}\0`,
    reply: (data) => {
      const text = data.toString('utf8');
      if (text.startsWith('CONNECT')) return 'CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0';
      if (text.startsWith('SUBSCRIBE')) return 'RECEIPT\nreceipt-id:r-0\n\n\0';
      return `MESSAGE\ndestination:/topic/chat\nmessage-id:m-${text.length}\nsubscription:sub-0\ncontent-type:text/plain\ncontent-length:${LINE.length}\n\n${LINE}\0`;
    },
  },
  // MQTT 3.1.1 over WebSocket (binary messages): CONNECT, SUBSCRIBE, then PUBLISH at QoS 0.
  {
    name: 'mqtt',
    path: '/mqtt',
    subprotocol: 'mqtt',
    opening: [MQTT_CONNECT, MQTT_SUBSCRIBE],
    message: () => MQTT_PUBLISH,
    reply: (data) => (data[0] === 0x10 ? MQTT_CONNACK : data[0] === 0x82 ? MQTT_SUBACK : data),
  },
];
