/**
 * Runs the ladder: one TCP connection per case, raw bytes (the cases must send broken frames).
 * `runServerCases` is the client that tests a server (point it at the wiretap, so every case
 * is in the inspector); `serveClientCases` is the server that tests whatever client connects.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { computeAccept } from '../protocol/handshake.ts';
import { caseById, type Case, type Script } from './cases.ts';
import { isPrefix, judge, printable, sameList } from './judge.ts';
import { selectCases } from './select.ts';
import { DEFAULT_WAITS, Session, type Deflate, type Waits } from './session.ts';
import { CONFORMANCE_USER_AGENT, type CaseResult, type Report, type RunServerOptions } from './types.ts';
import { headerMap, HeadReader } from './wire.ts';

export interface RunnerTuning {
  /** Named waits (see session.ts); tests of silent peers shorten them, the verdicts stay the same. */
  waits?: Partial<Waits>;
}

// ---- one case, either role --------------------------------------------------------------------

/** What the runner does after a case's own frames: wait for the answer, then close as Autobahn does. */
async function drive(s: Session, sc: Script): Promise<void> {
  await sc.run(s);
  if (!s.myClose && !s.closing) {
    if (sc.close.by === 'runner') {
      if (!sc.judge) {
        const outcomes = [sc.expect.ok, ...(sc.expect.nonStrict ? [sc.expect.nonStrict] : [])];
        // Close as soon as the answer is complete, or can no longer match: an event, not a clock.
        await s.waitFor(
          () => outcomes.some((o) => sameList(s.received, o)) || !outcomes.some((o) => isPrefix(s.received, o)) || s.closing,
          'answer wait for the expected reply',
          s.waits.answerMs,
        );
      }
      await s.settled();
      if (!s.closing) await s.sendClose(sc.close.codes[0] ?? 1000);
    } else {
      let before = s.probesAnswered;
      if (sc.probe !== false) before = await s.probe();
      await s.waitFor(() => s.closing || s.probesAnswered > before, 'answer wait for the peer to fail the connection', s.waits.answerMs);
      await s.settled();
      // The peer read the bad frame and went on: the runner ends the case itself.
      if (!s.closing) await s.sendClose(1000);
    }
  }
  await s.finish();
}

async function runOnSession(c: Case, sc: Script, s: Session, started: number, localPort: number | undefined, signal?: AbortSignal): Promise<CaseResult> {
  const limit = s.waits.caseMs * (sc.long ? 10 : 1);
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => s.cut();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([
      drive(s, sc),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          s.waitsExpired.push(`case timeout (${limit / 1000} s)`);
          s.cut();
          resolve();
        }, limit);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (!s.socket.destroyed) s.socket.destroy();
  return judge(c, sc, s, performance.now() - started, localPort);
}

/** A case whose connection never got to the WebSocket stage (refused, handshake rejected). */
function noConnection(c: Case, why: string, started: number, localPort?: number): CaseResult {
  const r: CaseResult = {
    id: c.id,
    group: c.group,
    description: c.description,
    expectation: c.expectation,
    verdict: 'FAIL',
    observed: why,
    behaviorClose: { verdict: 'FAILED', closedBy: 'none', clean: false, droppedBy: 'none', expected: 'an opening handshake, then the case', why: 'the WebSocket opening handshake was never completed' },
    durationMs: Math.round(performance.now() - started),
  };
  if (localPort !== undefined) r.localPort = localPort;
  return r;
}

// ---- the runner as a client (testing a server) -------------------------------------------------

export class TargetUrlError extends Error {}

function parseUrl(url: string): { host: string; port: number; path: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TargetUrlError(`"${url}" is not a URL: give the server as ws://HOST:PORT, e.g. ws://127.0.0.1:8080.`);
  }
  if (u.protocol !== 'ws:') throw new TargetUrlError(`${url}: the runner speaks plain ws:// (it writes raw frames); put wsplay tap in front of a wss:// server.`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), path: (u.pathname || '/') + u.search };
}

type Extension = { name: string; params: Map<string, string | true> };

/** A Sec-WebSocket-Extensions value, split into extensions and their parameters (RFC 7692 §5). */
export function parseExtensions(header: string | undefined): Extension[] {
  if (!header) return [];
  return header.split(',').map((e) => {
    const [name = '', ...ps] = e.split(';').map((x) => x.trim());
    const params = new Map<string, string | true>();
    for (const p of ps) {
      const [k = '', v] = p.split('=').map((x) => x.trim());
      if (k) params.set(k.toLowerCase(), v === undefined ? true : v.replace(/^"|"$/g, ''));
    }
    return { name: name.toLowerCase(), params };
  });
}

const bitsOf = (v: string | true | undefined, dflt: number): number => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : dflt);

/**
 * The server's answer to our offer: the agreed permessage-deflate, null when it declined, and
 * what in its answer breaks RFC 7692 (parameters no offer allowed, a window larger than asked).
 */
function acceptedDeflate(offer: string, response: string | undefined): { deflate: Deflate | null; problems: string[] } {
  const ext = parseExtensions(response).find((e) => e.name === 'permessage-deflate');
  if (!ext) return { deflate: null, problems: [] };
  const p = ext.params;
  const fits = parseExtensions(offer).some((o) => {
    const askedBits = o.params.get('server_max_window_bits');
    if (o.params.has('server_no_context_takeover') && !p.has('server_no_context_takeover')) return false;
    if (askedBits !== undefined && bitsOf(p.get('server_max_window_bits'), 99) > bitsOf(askedBits, 15)) return false;
    if (p.has('client_max_window_bits') && !o.params.has('client_max_window_bits')) return false;
    return true;
  });
  const problems = fits ? [] : [`answered permessage-deflate with "${printable(response!.slice(0, 200))}", which honours none of the offers (§7.1.1.1: a requested server_no_context_takeover MUST be in the answer; §7.1.2.1: server_max_window_bits no larger than asked)`];
  return {
    deflate: {
      myMaxWindowBits: bitsOf(p.get('client_max_window_bits'), 15),
      peerMaxWindowBits: bitsOf(p.get('server_max_window_bits'), 15),
      peerNoContextTakeover: p.has('server_no_context_takeover'),
      agreed: printable(response!.trim().slice(0, 200)),
    },
    problems,
  };
}

/** As a server: accept a client's permessage-deflate offer with the case's parameters (Autobahn's 13.x "accept"). */
function acceptOffer(offerHeader: string | undefined, accept: string): { header: string; deflate: Deflate } | null {
  const offer = parseExtensions(offerHeader).find((e) => e.name === 'permessage-deflate');
  if (!offer) return null;
  const want = parseExtensions(`x; ${accept}`)[0]!.params;
  const parts = ['permessage-deflate'];
  // What the client asks of the server is granted: the runner never uses context takeover anyway.
  if (offer.params.has('server_no_context_takeover')) parts.push('server_no_context_takeover');
  const serverBits = offer.params.get('server_max_window_bits');
  if (serverBits !== undefined) parts.push(`server_max_window_bits=${bitsOf(serverBits, 15)}`);
  if (want.has('client_no_context_takeover')) parts.push('client_no_context_takeover');
  // A client window may only be named when the client offered client_max_window_bits (§7.1.2.2).
  const clientBits = want.get('client_max_window_bits');
  if (clientBits !== undefined && offer.params.has('client_max_window_bits')) parts.push(`client_max_window_bits=${bitsOf(clientBits, 15)}`);
  const header = parts.join('; ');
  return {
    header,
    deflate: {
      myMaxWindowBits: bitsOf(serverBits, 15),
      peerMaxWindowBits: clientBits !== undefined && offer.params.has('client_max_window_bits') ? bitsOf(clientBits, 15) : 15,
      peerNoContextTakeover: want.has('client_no_context_takeover'),
      agreed: header,
    },
  };
}

async function clientHandshake(url: string, offer: string | undefined, signal?: AbortSignal): Promise<{ socket: net.Socket; rest: Buffer; deflate: Deflate | null; problems: string[]; localPort: number }> {
  const { host, port, path } = parseUrl(url);
  const socket = net.connect({ host, port });
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const reader = new HeadReader();
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(why));
    };
    const onAbort = (): void => fail('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'ECONNREFUSED' ? `nothing listens on ${host}:${port} (connection refused): start the server, or check --target` : `TCP error: ${e.message}`));
    socket.once('end', () => fail('the server ended TCP during the opening handshake'));
    socket.once('connect', () => {
      const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (offer ? `Sec-WebSocket-Extensions: ${offer}\r\n` : '') +
          `User-Agent: ${CONFORMANCE_USER_AGENT}\r\n\r\n`,
      );
    });
    const onData = (d: Buffer): void => {
      let got;
      try {
        got = reader.push(d);
      } catch (e) {
        return fail((e as Error).message);
      }
      if (!got) return;
      socket.off('data', onData);
      socket.removeAllListeners('end');
      socket.removeAllListeners('error');
      signal?.removeEventListener('abort', onAbort);
      const status = got.head.split('\r\n')[0] ?? '';
      if (!/^HTTP\/1\.1 101\b/.test(status)) return fail(`the server answered the opening handshake with "${printable(status.slice(0, 80))}", not 101 Switching Protocols`);
      const h = headerMap(got.head);
      if (h.get('sec-websocket-accept') !== computeAccept(key)) return fail('the server\'s Sec-WebSocket-Accept does not match the key (§4.2.2)');
      const ext = h.get('sec-websocket-extensions');
      if (!offer && ext) return fail(`the server answered with Sec-WebSocket-Extensions "${printable(ext.slice(0, 80))}" though none was offered (§9.1: it MUST NOT)`);
      const agreed = offer ? acceptedDeflate(offer, ext) : { deflate: null, problems: [] };
      resolve({ socket, rest: got.rest, deflate: agreed.deflate, problems: agreed.problems, localPort: socket.localPort ?? 0 });
    };
    socket.on('data', onData);
  });
}

async function runServerCase(c: Case, url: string, waits: Waits, signal?: AbortSignal): Promise<CaseResult> {
  const started = performance.now();
  const sc = c.script();
  let conn;
  try {
    conn = await clientHandshake(url, sc.offer, signal);
  } catch (e) {
    return noConnection(c, `No WebSocket connection: ${(e as Error).message}.`, started);
  }
  const s = new Session(conn.socket, 'client', waits, conn.deflate, conn.rest);
  for (const p of conn.problems) s.peerViolations.push(p);
  if (sc.offer && !conn.deflate) {
    // Autobahn: a peer that declines the extension leaves the case UNIMPLEMENTED.
    const unimpl: Script = { ...sc, run: async () => undefined, judge: () => ({ behavior: 'UNIMPLEMENTED', observed: 'The server declined permessage-deflate (no Sec-WebSocket-Extensions in its answer)' }) };
    return runOnSession(c, unimpl, s, started, conn.localPort, signal);
  }
  return runOnSession(c, sc, s, started, conn.localPort, signal);
}

/** Runs the selected cases against the server at `url`, one connection each, in ladder order. */
export async function runServerCases(options: RunServerOptions & RunnerTuning): Promise<Report> {
  parseUrl(options.url);
  const waits: Waits = { ...DEFAULT_WAITS, ...options.waits };
  const cases: Report['cases'] = [];
  for (const def of selectCases(options.cases)) {
    if (options.signal?.aborted) break;
    const r = await runServerCase(caseById(def.id)!, options.url, waits, options.signal);
    cases.push(r);
    options.onResult?.(r);
  }
  return { cases };
}

// ---- the runner as a server (testing a client) -------------------------------------------------

export interface ClientCasesOptions extends RunnerTuning {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  host?: string;
  cases?: string;
  onResult?: (r: CaseResult) => void;
  /** Each connection that starts a case (its id and the client's port). */
  onCase?: (id: string, clientPort: number) => void;
}

export interface ClientCasesServer {
  port: number;
  /** The cases this server offers, in order. */
  ids: string[];
  /** Results so far, in the order cases ended. */
  report(): Report;
  close(): Promise<void>;
}

const MAX_CLIENT_CONNECTIONS = 32;

const HTTP_BAD = (why: string): string => `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`;

/**
 * Serves the cases to any client. `ws://HOST:PORT/runCase?case=6.4.1` runs that case
 * (`case=N`, a number without dots, is the N-th case, as Autobahn's drivers count);
 * `/getCaseCount` answers the number of cases in a text message; any other path runs the next
 * case in order, so a client that just reconnects walks the ladder.
 */
export async function serveClientCases(options: ClientCasesOptions): Promise<ClientCasesServer> {
  const waits: Waits = { ...DEFAULT_WAITS, ...options.waits };
  const ids = selectCases(options.cases).map((c) => c.id);
  const results: CaseResult[] = [];
  const sockets = new Set<net.Socket>();
  let next = 0;

  const handle = (socket: net.Socket): void => {
    // One connection per case, in turn: a client (or anything else) opening dozens at once
    // gets refused rather than a runner that holds them all.
    if (sockets.size >= MAX_CLIENT_CONNECTIONS) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    // A connection that never finishes its request head is dropped (named wait: 10 s).
    socket.setTimeout(10_000, () => {
      if (!upgraded) socket.destroy();
    });
    let upgraded = false;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new HeadReader();
    const onData = (d: Buffer): void => {
      let got;
      try {
        got = reader.push(d);
      } catch (e) {
        socket.end(HTTP_BAD((e as Error).message));
        return;
      }
      if (!got) return;
      socket.off('data', onData);
      upgraded = true;
      socket.setTimeout(0);
      const [method = '', target = '/'] = (got.head.split('\r\n')[0] ?? '').split(' ');
      const h = headerMap(got.head);
      const key = h.get('sec-websocket-key');
      if (method !== 'GET' || (h.get('upgrade') ?? '').toLowerCase() !== 'websocket' || !key) {
        socket.end(HTTP_BAD('This is wsplay conformance --client: connect a WebSocket client to ws://HOST:PORT/runCase?case=ID (or any path for the next case).\n'));
        return;
      }
      const url = new URL(target, 'ws://x');
      let c: Case | undefined;
      let reply: string | undefined;
      if (url.pathname === '/getCaseCount') reply = String(ids.length);
      else if (url.pathname === '/runCase') {
        const want = url.searchParams.get('case') ?? '';
        const id = /^\d+$/.test(want) ? ids[Number(want) - 1] : want;
        c = id && ids.includes(id) ? caseById(id) : undefined;
        if (!c) {
          socket.end(HTTP_BAD(`No case "${want}" here: the cases are 1-${ids.length} or their ids (${ids[0]} … ${ids[ids.length - 1]}).\n`));
          return;
        }
      } else if (next < ids.length) c = caseById(ids[next++]!);
      else reply = 'all cases done';
      const sc = c?.script();
      const accepted = sc?.offer ? acceptOffer(h.get('sec-websocket-extensions'), sc.accept ?? '') : null;
      const deflate: Deflate | null = accepted?.deflate ?? null;
      const extHeader = accepted ? `Sec-WebSocket-Extensions: ${accepted.header}\r\n` : '';
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n${extHeader}\r\n`);
      const s = new Session(socket, 'server', waits, deflate, got.rest);
      if (reply !== undefined) {
        void s.sendMessage(Buffer.from(reply), false).then(() => s.sendClose(1000)).then(() => s.finish());
        return;
      }
      options.onCase?.(c!.id, socket.remotePort ?? 0);
      const started = performance.now();
      const script: Script = sc!.offer && !deflate ? { ...sc!, run: async () => undefined, judge: () => ({ behavior: 'UNIMPLEMENTED', observed: 'The client offered no permessage-deflate' }) } : sc!;
      void runOnSession(c!, script, s, started, socket.remotePort).then((r) => {
        results.push(r);
        options.onResult?.(r);
      });
    };
    socket.on('data', onData);
  };

  const server = net.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    ids,
    report: () => ({ cases: [...results].sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)) }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
