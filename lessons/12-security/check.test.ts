import { check, DASHBOARD_PORT, must, useLesson } from '../harness.ts';

const EVIL = 'http://evil.example';
// The dashboard's page, opened with either name; server.js learns the port from WSPLAY_DASHBOARD_PORT.
const OURS = [`http://localhost:${DASHBOARD_PORT}`, `http://127.0.0.1:${DASHBOARD_PORT}`];
const MAX = 64 * 1024;

// The check judges server.js with clients of its own, whatever client.js the workspace holds
// (step 4's sends 65,537 bytes): each plays a page of one origin.
const lesson = useLesson(import.meta.url, { client: false });

/** A client of the check's, as a page served from `origin` would run it; `send` is an expression sent once open. */
const page = (send: string | null) => `
const socket = new WebSocket('ws://localhost:9900');
socket.onopen = () => { ${send ? `socket.send(${send});` : ''} };
socket.onmessage = (event) => console.log('received', String(event.data).slice(0, 40));
socket.onclose = (event) => console.log('closed', event.code);
`;

/** The handshake of the first connection of a client started now, with `origin`, that sends `send` once open. */
async function handshakeFrom(origin: string, name: string, send: string | null = null) {
  const c = await lesson.runScript(name, page(send), { origin });
  const hs = await lesson.waitForType('handshake', (h) => lesson.connectionsOf(c).includes(h.conn) && h.outcome !== 'incomplete', 3000);
  return hs;
}

const originOf = (h: { request: { headers: [string, string][] } | null }) => h.request?.headers.find(([k]) => k.toLowerCase() === 'origin')?.[1];

check(`a page from another site (Origin: ${EVIL}) is refused with 403 Forbidden`, { hint: 1 }, async () => {
  const hs = await handshakeFrom(EVIL, `a page on ${EVIL}`);
  must(hs, () => `The wiretap saw no handshake from the page on ${EVIL}.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(originOf(hs) === EVIL, `The request did not carry Origin: ${EVIL} (it said ${originOf(hs) ?? 'nothing'}): the check could not test your server.`);
  must(
    hs.outcome !== 'upgraded',
    `Your server accepted a WebSocket from ${EVIL}: any page your user visits could talk to your server in their name. Check info.origin against an allow-list in verifyClient.`,
  );
  const status = hs.response?.status;
  must(
    status === 403,
    status === 401
      ? `Your server refused ${EVIL} with 401 Unauthorized: that is what ws answers when verifyClient returns false. To answer 403, take the callback: verifyClient: (info, done) => done(false, 403, 'Forbidden').`
      : `Your server refused ${EVIL} with ${status ? `${status} ${hs.response?.reason ?? ''}` : 'no answer at all'}, not 403 Forbidden.`,
  );
});

check(`the playground's own page (Origin: ${OURS.join(' or ')}) is accepted, and its messages answered`, { hint: 2 }, async () => {
  const hs = await handshakeFrom(OURS[0]!, `a page on ${OURS[0]}`, `'I am listening'`);
  must(hs, () => `The wiretap saw no handshake from the page on ${OURS[0]}.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(
    hs.outcome === 'upgraded',
    `Your server refused the dashboard's page (Origin: ${OURS[0]}) with ${hs.response?.status ?? 'no answer'}. Put it in the allow-list, with the port from process.env.WSPLAY_DASHBOARD_PORT.`,
  );
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === hs.conn && (m.text ?? '').includes('I am listening'), 3000);
  must(echo, () => `The page sent 'I am listening', and your server's answer never mentioned it.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: hs.conn })}`);
  const other = await handshakeFrom(OURS[1]!, `a page on ${OURS[1]}`);
  must(other?.outcome === 'upgraded', `Your server refused the dashboard opened as ${OURS[1]} (${other?.response?.status ?? 'no answer'}): allow both ${OURS.join(' and ')}.`);
});

check(`a message bigger than 64 KiB closes the connection with 1009, and the server keeps running`, { hint: 3 }, async () => {
  const big = await lesson.runScript("the check's big sender", page(`'x'.repeat(${MAX + 1})`), { origin: OURS[0] });
  const hs = await lesson.waitForType('handshake', (h) => lesson.connectionsOf(big).includes(h.conn), 3000);
  must(hs?.outcome === 'upgraded', `The check's client (Origin: ${OURS[0]}) could not connect: ${hs?.response?.status ?? 'no answer'}.`);
  const close = await lesson.waitForType('close', (e) => e.conn === hs.conn && e.dir === 'server', 3000);
  const echoed = lesson.wire.messages('server', hs.conn).some((m) => m.length > MAX);
  must(
    close,
    () =>
      lesson.server?.state.status === 'crashed'
        ? `Your server crashed on a message of ${(MAX + 1).toLocaleString('en-US')} bytes:\n${lesson.trouble()}\nws reports a message over maxPayload as an 'error' event on the connection: listen for it, ws.on('error', ...).`
        : echoed
          ? `Your server took a message of ${(MAX + 1).toLocaleString('en-US')} bytes and echoed it. Set maxPayload: 64 * 1024 in the WebSocketServer's options.`
          : `Your server did not close the connection after a message of ${(MAX + 1).toLocaleString('en-US')} bytes.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: hs.conn })}`,
  );
  must(close.code === 1009, `Your server closed the connection with ${close.code}, not 1009 (message too big).`);
  await lesson.waitForType('end', (e) => e.conn === hs.conn, 1500);
  const next = await lesson.runScript("the check's next client", page(null), { origin: OURS[0] });
  const hello = await lesson.waitForType('message', (m) => m.dir === 'server' && lesson.connectionsOf(next).includes(m.conn), 3000);
  must(
    hello && lesson.server?.state.status === 'running',
    () => `After closing the big sender's connection, your server no longer greets a new client:\n${lesson.trouble()}\nws reports a message over maxPayload as an 'error' event on the connection: listen for it, ws.on('error', ...).`,
  );
});
