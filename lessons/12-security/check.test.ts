import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { buildFrame } from '../../server/tap/crafter.ts';
import { check, DASHBOARD_PORT, must, useLesson } from '../harness.ts';

const EVIL = 'http://evil.example';
// The dashboard's page, opened with either name; server.js learns the port from WSPLAY_DASHBOARD_PORT.
const OURS = [`http://localhost:${DASHBOARD_PORT}`, `http://127.0.0.1:${DASHBOARD_PORT}`];
/**
 * Origins a browser may send that look like ours to a check by substring, prefix, suffix or a
 * loose regex: each is another site (the random one: no list can know it beforehand).
 */
const LOOK_ALIKES = [
  `http://localhost.${randomBytes(3).toString('hex')}.example`,
  `http://evil.localhost:${DASHBOARD_PORT}`,
  `http://127.0.0.1.evil.example:${DASHBOARD_PORT}`,
  `http://evil.example:${DASHBOARD_PORT}`,
  `https://localhost:${DASHBOARD_PORT}`,
  // Another program's page on this machine: same host, another port, another origin.
  `http://localhost:${DASHBOARD_PORT + 1 + randomInt(1000)}`,
];
const MAX = 64 * 1024;
const fmt = (n: number) => n.toLocaleString('en-US');

// The check judges server.js with clients of its own, whatever client.js the workspace holds
// (step 4's sends 65,537 bytes). Each sends its handshake by hand, as the lesson's curl does,
// with the Origin of the page it plays: no browser-like process per origin, so a dozen
// origins cost milliseconds; the wiretap records each as it records a browser's.
const lesson = useLesson(import.meta.url, { client: false });

/**
 * A handshake sent by hand, as the lesson's `curl` does, with `origin` (null: no Origin header):
 * what a page of that origin would ask, without starting a browser-like client for each one.
 * Resolves with the socket (for more bytes: a frame header) once the server's answer (status
 * line and headers) is read, or null when none came.
 */
function rawHandshake(origin: string | null): Promise<{ socket: net.Socket; status: number; local: number } | null> {
  return new Promise((resolve) => {
    const socket = net.connect(lesson.tapPort, '127.0.0.1');
    let head = Buffer.alloc(0);
    let local = 0;
    const give = (v: { socket: net.Socket; status: number; local: number } | null) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (v === null) socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => give(null), 10_000);
    socket.on('error', () => give(null));
    socket.on('connect', () => {
      local = socket.localPort ?? 0;
      socket.write(
        'GET / HTTP/1.1\r\nHost: localhost:9900\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${origin === null ? '' : `Origin: ${origin}\r\n`}\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]).subarray(0, 8192);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'));
      if (status && head.includes('\r\n\r\n')) give({ socket, status: Number(status[1]), local });
      else if (head.length >= 8192) give(null);
    });
    socket.on('end', () => give(null));
  });
}

/** The wiretap's record of a hand-made handshake: its connection is the one from the socket's local port. */
async function recordOf(r: { local: number } | null) {
  const local = r?.local;
  if (!local) return undefined;
  const open = await lesson.waitForType('open', (o) => o.client.endsWith(`:${local}`), 10_000);
  if (!open) return undefined;
  return lesson.waitForType('handshake', (h) => h.conn === open.conn && h.outcome !== 'incomplete', 10_000);
}

/** A hand-made handshake with `origin` (null: no Origin header), as the wiretap saw it. */
async function probeOrigin(origin: string | null) {
  const r = await rawHandshake(origin);
  const hs = await recordOf(r);
  r?.socket.end();
  return hs;
}

/** A masked text frame, as a client sends it. */
const textFrame = (text: string) => buildFrame({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, mask: true, payload: { kind: 'text', text } }).bytes;

const originOf = (h: { request: { headers: [string, string][] } | null }) => h.request?.headers.find(([k]) => k.toLowerCase() === 'origin')?.[1];
const crashed = () => lesson.server?.state.status === 'crashed';

check(`a page from another site (Origin: ${EVIL}) is refused with 403 Forbidden`, { hint: 1, timeout: 60_000 }, async () => {
  const hs = await probeOrigin(EVIL);
  must(hs, () => `The wiretap saw no handshake from the page on ${EVIL}.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(originOf(hs) === EVIL, `The request did not carry Origin: ${EVIL} (it said ${originOf(hs) ?? 'nothing'}): the check could not test your server.`);
  must(
    hs.outcome !== 'upgraded',
    `Your server accepted a WebSocket from ${EVIL} (#${hs.conn}: 101): any page your user visits could talk to your server in their name. Check info.origin against an allow-list in verifyClient.`,
  );
  const status = hs.response?.status;
  must(
    status === 403,
    status === 401
      ? `Your server refused ${EVIL} with 401 Unauthorized: that is what ws answers when verifyClient returns false. To answer 403, take the callback: verifyClient: (info, done) => ..., and refuse with done(false, 403, 'Forbidden').`
      : `Your server refused ${EVIL} with ${status ? `${status} ${hs.response?.reason ?? ''}` : 'no answer at all'}, not 403 Forbidden.`,
  );
});

check(`the playground's own page (Origin: ${OURS.join(' or ')}) is accepted, and its messages answered`, { hint: 2, timeout: 60_000 }, async () => {
  const [r, r2] = await Promise.all(OURS.map((origin) => rawHandshake(origin)));
  const [hs, other] = await Promise.all([recordOf(r), recordOf(r2)]);
  r2?.socket.end();
  must(hs && r, () => `The wiretap saw no handshake from the page on ${OURS[0]}.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(
    hs.outcome === 'upgraded',
    `Your server refused the dashboard's page (Origin: ${OURS[0]}, #${hs.conn}) with ${hs.response?.status ?? 'no answer'}. Put it in the allow-list, with the port from process.env.WSPLAY_DASHBOARD_PORT.`,
  );
  r.socket.on('error', () => {});
  r.socket.write(textFrame('I am listening'));
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === hs.conn && (m.text ?? '').includes('I am listening'), 5000);
  r.socket.end();
  must(echo, () => `The page sent 'I am listening', and your server's answer never mentioned it.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: hs.conn })}`);
  must(other?.outcome === 'upgraded', `Your server refused the dashboard opened as ${OURS[1]} (${other?.response?.status ?? 'no answer'}): allow both ${OURS.join(' and ')}.`);
});

check('pages of look-alike origins (localhost.….example, evil.localhost, another scheme, host or port) are refused', { hint: 2, timeout: 60_000 }, async () => {
  const let_in: string[] = [];
  const seen = await Promise.all(LOOK_ALIKES.map((origin) => probeOrigin(origin)));
  for (const [i, hs] of seen.entries()) {
    must(hs, () => `The wiretap saw no handshake from the page on ${LOOK_ALIKES[i]}.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
    if (hs.outcome === 'upgraded') let_in.push(`${LOOK_ALIKES[i]} (#${hs.conn})`);
  }
  must(
    let_in.length === 0,
    `Your server let in ${let_in.join(', ')}: ${let_in.length === 1 ? 'a page' : 'pages'} of another site that only look like ours. An origin is the whole scheme://host:port, compared as a whole: a substring, a prefix, a suffix or a loose regular expression lets look-alikes through. Compare with the allow-list exactly: ALLOWED_ORIGINS.includes(info.origin).`,
  );
});

check('a request without Origin (a program, not a page), or with Origin: null, is refused', { hint: 3, timeout: 60_000 }, async () => {
  const [bare, opaque] = await Promise.all([probeOrigin(null), probeOrigin('null')]);
  must(bare, () => `The wiretap saw no handshake from the check's client without Origin.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(
    bare.outcome !== 'upgraded',
    `Your server accepted a handshake with no Origin header at all (#${bare.conn}). A page's browser always sends one, so a request without it is not from a page of ours: a script or another program, which can claim anything. info.origin is then undefined: it must not pass your check.`,
  );
  must(
    opaque?.outcome !== 'upgraded',
    `Your server accepted Origin: null (#${opaque?.conn}), which a browser sends for sandboxed frames and local files: pages that are not ours. Only the allow-list's exact origins pass.`,
  );
});

const ANNOUNCED = [
  [1n << 20n, '1,048,576 bytes (1 MiB)'],
  [1n << 31n, '2,147,483,648 bytes (2^31)'],
] as const;

/**
 * Frame headers announcing huge payloads (a 64-bit length, masked as a client's must be), with
 * no payload behind them, each sent into its own connection of a page of ours, as if the page
 * had started sending a huge message. A server with maxPayload refuses them at the header; one
 * that reads the whole message first waits for the payload.
 */
async function announce(length: bigint, what: string) {
  const r = await rawHandshake(OURS[0]!);
  const hs = await recordOf(r);
  if (!r || !hs || r.status !== 101) {
    r?.socket.destroy();
    return { hs, what, refused: true, frame: undefined, close: undefined };
  }
  const conn = hs.conn;
  // After the server's greeting: the connection is idle, the header starts a frame of its own.
  await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === conn, 3000);
  const header = Buffer.alloc(14);
  header[0] = 0x82; // FIN, binary
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(length, 2);
  randomBytes(4).copy(header, 10);
  r.socket.on('error', () => {});
  r.socket.resume();
  r.socket.write(header);
  const frame = await lesson.waitForType('frame', (f) => f.conn === conn && f.dir === 'client' && f.length === Number(length), 3000);
  const close = await lesson.waitForType('close', (e) => e.conn === conn && e.dir === 'server', 2500);
  r.socket.destroy();
  return { hs, what, refused: false, frame, close };
}

check(`a frame header announcing more than 64 KiB (1 MiB, or 2^31 bytes), with nothing behind it, is refused at once with 1009`, { hint: 4, timeout: 60_000 }, async () => {
  // One after the other: a server that crashes on one must not be blamed for the other.
  for (const [length, announced] of ANNOUNCED) {
    const { hs, what, refused, frame, close } = await announce(length, announced);
    must(hs && !refused, `The check's client (Origin: ${OURS[0]}) could not connect: ${hs?.response?.status ?? 'no answer'}.`);
    const conn = hs.conn;
    const where = frame ? `#${conn} frame ${frame.seq}` : `#${conn}`;
    must(
      close,
      () =>
        crashed()
          ? `Your server crashed on a frame header announcing ${what} (${where}):\n${lesson.trouble()}\nws reports a frame over maxPayload as an 'error' event on the connection: listen for it, ws.on('error', ...).`
          : `The check's client sent a frame header announcing ${what} (${where}), and nothing behind it. Your server waited for the payload: it was ready to take it all into memory before any of your code could look at its size. With maxPayload: 64 * 1024 in the WebSocketServer's options, ws refuses such a frame at its header, with 1009.`,
    );
    must(close.code === 1009, `Your server closed ${where} (a frame header announcing ${what}) with ${close.code}, not 1009 (message too big).`);
    // ws closes with 1009, then reports an 'error' event: without a listener, the server dies right after.
    await lesson.waitForType('end', (e) => e.conn === conn, 1500);
    must(
      !crashed(),
      () => `Your server closed ${where} (a frame header announcing ${what}) with 1009, and then crashed:\n${lesson.trouble()}\nws reports a frame over maxPayload as an 'error' event on the connection, after its close frame: listen for it, ws.on('error', ...).`,
    );
  }
});

check(`a message bigger than 64 KiB closes the connection with 1009, and the server keeps running`, { hint: 4, timeout: 60_000 }, async () => {
  const r = await rawHandshake(OURS[0]!);
  const hs = await recordOf(r);
  must(r && hs?.outcome === 'upgraded', `The check's client (Origin: ${OURS[0]}) could not connect: ${hs?.response?.status ?? 'no answer'}.`);
  r.socket.on('error', () => {});
  r.socket.write(textFrame('x'.repeat(MAX + 1)));
  const close = await lesson.waitForType('close', (e) => e.conn === hs.conn && e.dir === 'server', 3000);
  const echoed = lesson.wire.messages('server', hs.conn).some((m) => m.length > MAX);
  must(
    close,
    () =>
      crashed()
        ? `Your server crashed on a message of ${fmt(MAX + 1)} bytes:\n${lesson.trouble()}\nws reports a message over maxPayload as an 'error' event on the connection: listen for it, ws.on('error', ...).`
        : echoed
          ? `Your server took a message of ${fmt(MAX + 1)} bytes (#${hs.conn}) and echoed it. Set maxPayload: 64 * 1024 in the WebSocketServer's options.`
          : `Your server did not close the connection after a message of ${fmt(MAX + 1)} bytes.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: hs.conn })}`,
  );
  must(close.code === 1009, `Your server closed the connection with ${close.code}, not 1009 (message too big).`);
  await lesson.waitForType('end', (e) => e.conn === hs.conn, 1500);
  r.socket.destroy();
  const n = await rawHandshake(OURS[0]!);
  const nextHs = await recordOf(n);
  const hello = nextHs && (await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === nextHs.conn, 5000));
  n?.socket.destroy();
  must(
    hello && lesson.server?.state.status === 'running',
    () => `After closing the big sender's connection, your server no longer greets a new client:\n${lesson.trouble()}\nws reports a message over maxPayload as an 'error' event on the connection: listen for it, ws.on('error', ...).`,
  );
});
