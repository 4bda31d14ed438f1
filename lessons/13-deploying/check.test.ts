import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import type { ControlEvent, EndEvent, HandshakeEvent, MessageEvent } from '../../server/capture/events.ts';
import { ReverseProxy } from '../harness/reverse-proxy.ts';
import { check, compareWithGoal, lessonGoal, must, until, useLesson, type ClientRun } from '../harness.ts';

/** The site's public address in the lesson: the proxy. */
const SITE_PORT = 9980;
/** The proxy's idle timeout in the check: short, so that a silent connection is cut in seconds. */
const IDLE_MS = 2000;
/** How long a silent connection must last, in idle timeouts. */
const KEEP_FOR = 3;

// The wiretap sits between the proxy and server.js: it sees what reaches the server, as the
// server sees it. The clients talk to the proxy (ws://localhost:9980), never to the wiretap.
const lesson = useLesson(import.meta.url, { client: false, files: ['proxy.js'] });

/** Step 4's conversation (goal.json): client.js's connection in the last check is compared with it. */
const GOAL = lessonGoal(import.meta.url);

let proxy: ReverseProxy | null = null;
beforeAll(async () => {
  proxy = new ReverseProxy({ config: lesson.file('proxy.js'), target: lesson.tapPort, idleMs: IDLE_MS });
  const port = await proxy.listening();
  must(port, 'The reverse proxy did not start.');
}, 60_000);
afterAll(() => proxy?.close());

const via = () => ({ port: proxy!.port, publicPort: SITE_PORT });
const header = (h: { headers: [string, string][] } | null | undefined, name: string) => h?.headers.find(([k]) => k.toLowerCase() === name)?.[1];
const hasToken = (value: string | undefined, token: string) => (value ?? '').split(',').some((t) => t.trim().toLowerCase() === token);
const headLines = (h: HandshakeEvent) => (h.request?.headers ?? []).map(([k, v]) => `  ${k}: ${v}`).join('\n');
const configTrouble = () => {
  const errors = proxy?.configErrors() ?? [];
  return errors.length ? `\nThe proxy answered 502: ${errors.join(' ')}` : '';
};
/** The connection a client's first WebSocket made through the proxy, as the wiretap numbered it. */
const connOf = (c: ClientRun) => until(() => lesson.connectionsOf(c)[0], 10_000);
const handshakeOf = (conn: number) => lesson.waitForType('handshake', (h) => h.conn === conn && h.outcome !== 'incomplete', 10_000);
const endOf = (conn: number) => lesson.events.find((e): e is EndEvent => e.type === 'end' && e.conn === conn);

// ---- 1. the handshake through the proxy ----

/** A page that opens a WebSocket to the site (a random path and word: nothing can know them beforehand) and says one thing. */
const word = randomBytes(4).toString('hex');
const path = `/chat/${randomBytes(3).toString('hex')}`;
const PAGE = `
const socket = new WebSocket('ws://localhost:${SITE_PORT}${path}');
socket.onopen = () => socket.send('hello ${word}');
socket.onmessage = (event) => console.log('received:', event.data);
socket.onclose = (event) => console.log('closed', event.code);
`;

let handshake: Promise<{ page: ClientRun; conn?: number; hs?: HandshakeEvent }> | null = null;
async function throughTheProxy() {
  const page = await lesson.runScript('the page', PAGE, { via: via() });
  const conn = await connOf(page);
  const hs = conn === undefined ? undefined : await handshakeOf(conn);
  if (hs?.outcome === 'upgraded') await page.waitForConsole(word, 5000);
  else await page.waitForSocket('close', 5000);
  return { page, conn, hs };
}

check('a WebSocket handshake through the proxy reaches your server with its Upgrade and Connection headers, and the 101 comes back', { hint: 1, timeout: 60_000 }, async () => {
  const { page, conn, hs } = await (handshake ??= throughTheProxy());
  must(conn !== undefined && hs, () => `The page's handshake to ws://localhost:${SITE_PORT}${path} never reached your server.${configTrouble()}\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const upgrade = header(hs.request, 'upgrade');
  const connection = header(hs.request, 'connection');
  const answer = hs.response ? `${hs.response.status} ${hs.response.reason}` : 'nothing';
  const closed = page.sockets.find((s) => s.event === 'close');
  const pageSaw = closed ? ` The page's WebSocket failed: onerror, then onclose with ${closed.code}, and no more said.` : '';
  must(
    upgrade?.toLowerCase() === 'websocket' && hasToken(connection, 'upgrade'),
    () =>
      `The page asked the proxy for a WebSocket, and the request that reached your server (#${conn}) ${
        !upgrade && !hasToken(connection, 'upgrade')
          ? 'had neither Upgrade nor Connection: upgrade'
          : !upgrade
            ? 'had Connection: upgrade but no Upgrade header'
            : upgrade.toLowerCase() !== 'websocket'
              ? `said Upgrade: ${upgrade}, not websocket`
              : `had Upgrade: ${upgrade} but ${connection ? `Connection: ${connection}` : 'no Connection header'}, not Connection: upgrade`
      }:\n${headLines(hs)}\nTo your server that is a plain GET, and it answered it as one (${answer}).${pageSaw} Upgrade and Connection are hop-by-hop headers: a proxy drops them unless told to pass them on. Set both in proxy.js's forwardHeaders.${configTrouble()}`,
  );
  must(
    hs.outcome === 'upgraded',
    `The handshake reached your server with Upgrade and Connection (#${conn}), and your server answered ${answer}, not 101 Switching Protocols.${configTrouble()}`,
  );
  must(
    page.sockets.some((s) => s.event === 'open'),
    `Your server answered 101 (#${conn}), and the page's WebSocket never opened: the 101 did not come back through the proxy.`,
  );
  must(hs.request?.path === path, `The page asked for ${path}; your server got ${hs.request?.path}: the proxy must forward the path as it came.`);
  const echoed = await page.waitForConsole(word, 3000);
  must(echoed, () => `The page said 'hello ${word}' through the proxy and never got your server's answer.\nThe wiretap saw:\n${lesson.wire.transcript({ conn })}`);
});

// ---- 2. a plain request stays plain ----

/** A plain GET through the proxy, as a browser tab or the load balancer's health check sends. */
function plainGet(p: string): Promise<{ status: number } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: proxy!.port, path: p, headers: { host: `localhost:${SITE_PORT}` }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

check('a plain HTTP request through the proxy (a page, a health check) reaches your server as a plain request, without Upgrade', { hint: 2, timeout: 60_000 }, async () => {
  await (handshake ??= throughTheProxy());
  const p = `/health?${randomBytes(3).toString('hex')}`;
  const got = await plainGet(p);
  const hs = await lesson.waitForType('handshake', (h) => h.request?.path === p && h.outcome !== 'incomplete', 10_000);
  must(got && hs, () => `A plain GET ${p} through the proxy never reached your server.${configTrouble()}`);
  const upgrade = header(hs.request, 'upgrade');
  must(
    !upgrade,
    `A plain GET ${p} (no Upgrade from the client: a page, an image, the load balancer's health check) reached your server (#${hs.conn}) with Upgrade: ${upgrade}:\n${headLines(hs)}\nYour proxy turned it into a WebSocket handshake it never was; your server answered ${hs.response?.status ?? 'nothing'} ${hs.response?.reason ?? ''}. Pass Upgrade on only when the request has one (request.headers.upgrade), as nginx's $http_upgrade does.`,
  );
});

// ---- 3. the idle timeout ----

/** A page that connects, says nothing at all, and listens: a chat open in a tab nobody types in. */
const SILENT = `
const socket = new WebSocket('ws://localhost:${SITE_PORT}/');
socket.onmessage = (event) => console.log('received:', event.data);
socket.onclose = (event) => console.log('closed', event.code);
`;

interface Silence {
  conn?: number;
  cut?: EndEvent;
  pings: ControlEvent[];
  /** Server data messages after the greeting, while the page said nothing. */
  chatter: MessageEvent[];
  page?: ClientRun;
}

/** A silent page through the proxy, watched for KEEP_FOR idle timeouts (or until the proxy cuts it). */
async function silentPage(name: string): Promise<Silence> {
  const page = await lesson.runScript(name, SILENT, { via: via() });
  const conn = await connOf(page);
  if (conn === undefined) return { pings: [], chatter: [], page };
  const hs = await handshakeOf(conn);
  if (hs?.outcome !== 'upgraded') return { conn, pings: [], chatter: [], page };
  const opened = hs.t;
  // Watched in wire time: the wiretap's clock, which the proxy's idle timer shares the machine with.
  await until(() => (endOf(conn) ? true : undefined), KEEP_FOR * IDLE_MS + 3000);
  const end = endOf(conn);
  const upto = end?.t ?? Number.POSITIVE_INFINITY;
  const pings = lesson.events.filter((e): e is ControlEvent => e.type === 'ping' && e.dir === 'server' && e.conn === conn && e.t <= upto);
  const data = lesson.wire.messages('server', conn).filter((m) => m.t >= opened);
  return { conn, cut: end, pings, chatter: data.slice(1), page };
}

/** What the learner's client.js did meanwhile: its own connections, to spot a reconnect that hides a cut. */
let pageRun: Promise<ClientRun> | null = null;
let silence: Promise<Silence> | null = null;
const secondOpinions: Promise<Silence>[] = [];

const gapsOf = (pings: ControlEvent[]) => pings.slice(1).map((p, i) => p.t - pings[i]!.t);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

check(`a silent connection stays open past the proxy's idle timeout (${IDLE_MS / 1000} s here): your server's pings keep it alive`, { hint: 3, timeout: 90_000 }, async () => {
  const first = await (handshake ??= throughTheProxy());
  must(first.hs?.outcome === 'upgraded', 'No WebSocket gets through the proxy yet (see the first check): fix proxy.js first.');
  // client.js first, alone, so that each connection is known to be whose; the silent page after.
  pageRun ??= lesson.runClient({ name: 'client.js', via: via() }).then(async (c) => (await connOf(c), c));
  const client = await pageRun;
  let s = await (silence ??= silentPage('the silent page'));
  must(s.conn !== undefined, 'The silent page could not connect through the proxy.');
  // Pings at a fine pace and the connection cut all the same: the machine stalled the server
  // past the idle timeout. Once is chance; the same again, with another page, is the code.
  const gaps = gapsOf(s.pings);
  // Or ended by a server that drops clients missing a pong (lesson 10) though the page answered:
  // a client process stalled by the machine answers late. Also chance, once.
  const answered = (x: Silence) => lesson.events.filter((e) => e.type === 'pong' && e.dir === 'client' && e.conn === x.conn).length >= x.pings.length - 1;
  const byChance = (x: Silence) => x.cut && x.pings.length >= 2 && (x.cut.by === 'server' ? answered(x) : median(gapsOf(x.pings))! <= IDLE_MS / 2);
  // Up to two more pages: the same cut three times in a row is the code, not the machine.
  for (let tries = 0; tries < 2 && byChance(s); tries++) {
    const again = await (secondOpinions[tries] ??= silentPage(`the silent page (again, ${tries + 1})`));
    if (again.conn !== undefined && !again.cut) s = again;
  }
  const conn = s.conn!;
  // client.js's own connection against step 4's goal: the sentence naming its first difference.
  const own = lesson.connectionsOf(client)[0];
  const goalSays = compareWithGoal(GOAL, lesson.events.filter((e) => e.conn === own), `client.js through the proxy${own !== undefined ? `, #${own}` : ''}`, {
    fromConn: own ?? 0,
    ...(own !== undefined && endOf(own) ? {} : { now: Number.POSITIVE_INFINITY }),
  });
  const goal = goalSays ? `\n${goalSays}` : '';
  const sockets = client.sockets.filter((e) => e.event === 'create').length;
  const reconnected = sockets > 1 ? ` Your client.js reconnected after a cut (${sockets} WebSockets, one after the other): that hides the cut from the person at the page, not from the wire: every cut loses what was in flight, and costs a new handshake. Keep the connection alive instead.` : '';
  must(
    !s.cut || s.cut.by !== 'server',
    () => `Your server ended the silent page's connection (#${conn}) itself${s.cut!.clean ? ', with a closing handshake' : ''}: a page that says nothing is not a dead page (it answers your pings). Keep silent clients, and only end those that stop answering.`,
  );
  if (s.cut) {
    const cutAfter = Math.round((s.cut.t - (lesson.events.filter((e) => e.conn === conn && e.type !== 'end').at(-1)?.t ?? s.cut.t)) / 100) / 10;
    const why =
      s.pings.length === 0
        ? `Your server sent it nothing after the greeting: no ping, so nothing crossed the proxy. Send every client a ping on a timer, well within the idle timeout (every second or so here; the browser answers each with a pong by itself).`
        : `Your server pinged it ${s.pings.length} time(s)${gaps.length ? `, every ${Math.round(median(gaps)!)} ms or so` : ''}: not often enough. The proxy cuts after ${IDLE_MS} ms with no byte either way; ping at least twice within that (every ${IDLE_MS / 2} ms or less), so that one late ping does not cost the connection.`;
    must(
      false,
      `The proxy cut the silent page's connection (#${conn}) after ${cutAfter} s with no byte either way: the end of TCP, no close frame, by the proxy (the wiretap shows it ending from the client's side, as your server sees it). The page gets onclose with 1006.\n${why}${reconnected}${goal}`,
    );
  }
  must(
    s.chatter.length === 0,
    `Your server kept the silent page's connection (#${conn}) alive with data messages (${s.chatter.length} of them after the greeting, the first: '${(s.chatter[0]?.text ?? '(binary)').slice(0, 40)}'). They cross the proxy, but every page's onmessage receives each one, and your application's protocol now has a message every client must know to ignore. A ping does the same job below the application: the browser answers it by itself, and the page never sees either.${goal}`,
  );
  must(
    s.pings.length >= KEEP_FOR,
    `The silent page's connection (#${conn}) stayed open, yet your server sent it ${s.pings.length} ping(s) in ${(KEEP_FOR * IDLE_MS) / 1000} s: something else kept it alive.`,
  );
});
