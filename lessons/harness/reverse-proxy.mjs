// wsplay's small reverse proxy for lesson 13 ("Deploying"): the nginx or load balancer in front
// of the learner's server, run as its own process (the learner's proxy.js runs inside it, so an
// endless loop or a throw in it never stops the check or the playground):
//
//   node reverse-proxy.mjs        options as JSON in WSPLAY_PROXY:
//     { "config": "/path/proxy.js",  the learner's configuration (see below); optional
//       "target": 9900,              where requests go (127.0.0.1), plain HTTP
//       "port": 0, "host": "127.0.0.1",
//       "idleMs": 2000,              cut a WebSocket tunnel after this long with no byte either way
//       "answer": null | 400 | 426,  answer every upgrade request itself (a proxy without WebSocket support)
//       "stripUpgrade": false,       drop Upgrade/Connection whatever proxy.js says
//       "tls": { "cert": PEM, "key": PEM,    terminate TLS (wss://) instead of plain ws://; cert/key
//                "sni": { host: { cert, key } } } }  for clients that send no server name, sni for those that do
//
// It does what an HTTP/1.1 proxy must (RFC 9110 §7.6.1): the hop-by-hop headers of a request
// (Connection, Upgrade, Keep-Alive, TE ... and every header Connection names) are for one hop
// only, and are not forwarded. A WebSocket handshake needs two of them, Upgrade and Connection,
// to reach the server: a proxy forwards them only when told to, as nginx does with
// `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";`. proxy.js
// tells it: it exports `forwardHeaders(request)` returning the headers to set on the forwarded
// request ({ name: value }; an empty value sets nothing).
//
// Reports go over the IPC channel (or stdout, one JSON object a line, without one):
//   { type: 'listening', port }
//   { type: 'upgrade', client, upstream, status }   a handshake relayed; upstream: the proxy's
//                                                     local port towards the target (the wiretap's
//                                                     `open` event names it as the client)
//   { type: 'cut', client, upstream, idleMs }        a tunnel cut for idleness
//   { type: 'config-error', message }                proxy.js could not be used (the request got a 502)
//   { type: 'tls', client, fromClient, fromProxy }   a wss:// connection ended: the TLS records each way
//                                                     ({ bytes, records: { handshake, applicationData ... },
//                                                     first: its first record header in hex, plaintext: whether
//                                                     'GET ', 'Upgrade' or 'websocket' showed in the clear, tls })
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';

const opts = JSON.parse(process.env.WSPLAY_PROXY || '{}');
const TARGET = { host: '127.0.0.1', port: Number(opts.target) || 9900 };
const IDLE_MS = Number(opts.idleMs) || 60_000;

function report(msg) {
  if (process.send && process.connected) process.send(msg);
  else process.stdout.write(`${JSON.stringify(msg)}\n`);
}

// ---- the learner's configuration ----

let config = { forwardHeaders: () => ({}) };
let configProblem = null;
if (opts.config) {
  try {
    // A fresh copy each start (the playground restarts this process when proxy.js is saved).
    const mod = createRequire(opts.config)(opts.config);
    if (typeof mod?.forwardHeaders !== 'function') configProblem = 'proxy.js exports no forwardHeaders(request) function (module.exports = { forwardHeaders(request) { ... } }).';
    else config = mod;
  } catch (err) {
    configProblem = `proxy.js could not be loaded: ${err?.name ?? 'Error'}: ${err?.message ?? err}`;
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1, and the old Keep-Alive and Proxy-Connection): one hop only. */
const HOP_BY_HOP = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What proxy.js may set: a header line is bounded, and so is the number of them. */
const MAX_SET = 32;
const MAX_VALUE = 4096;

/**
 * The headers of the forwarded request: the client's end-to-end headers as they came, then what
 * proxy.js sets. Throws an Error whose message names what proxy.js did wrong.
 */
function forwardedHeaders(req) {
  const named = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    out.push([name, req.rawHeaders[i + 1]]);
  }
  if (configProblem) throw new Error(configProblem);
  const request = {
    method: req.method,
    url: req.url,
    // Lower-case names, as Node gives them (request.headers.upgrade is nginx's $http_upgrade).
    headers: { ...req.headers },
    remoteAddress: req.socket.remoteAddress,
  };
  let set;
  try {
    set = config.forwardHeaders(request);
  } catch (err) {
    throw new Error(`proxy.js's forwardHeaders threw: ${err?.name ?? 'Error'}: ${err?.message ?? err}`);
  }
  if (set === undefined || set === null) return out;
  if (typeof set !== 'object' || Array.isArray(set)) throw new Error(`proxy.js's forwardHeaders returned ${Array.isArray(set) ? 'an array' : typeof set}, not an object of headers ({ 'X-Name': 'value' }).`);
  const entries = Object.entries(set);
  if (entries.length > MAX_SET) throw new Error(`proxy.js's forwardHeaders returned ${entries.length} headers; this proxy takes at most ${MAX_SET}.`);
  for (const [name, value] of entries) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    if (!TOKEN.test(name)) throw new Error(`proxy.js's forwardHeaders returned a header named ${JSON.stringify(name.slice(0, 60))}: not a valid header name.`);
    const text = String(value);
    if (/[\r\n\0]/.test(text) || text.length > MAX_VALUE) throw new Error(`proxy.js's forwardHeaders returned a value for ${name} that cannot go in a header (a line break, or over ${MAX_VALUE} characters).`);
    if (opts.stripUpgrade && (name.toLowerCase() === 'upgrade' || name.toLowerCase() === 'connection')) continue;
    // proxy_set_header replaces: one line per name.
    const at = out.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (at !== -1) out.splice(at, 1);
    out.push([name, text]);
  }
  return out;
}

const flat = (pairs) => pairs.flat();

function configFailed(err) {
  report({ type: 'config-error', message: err.message });
  return `Bad gateway: the reverse proxy could not forward this request. ${err.message}\n`;
}

// ---- plain HTTP requests ----

function onRequest(req, res) {
  let headers;
  try {
    headers = forwardedHeaders(req);
  } catch (err) {
    res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end(configFailed(err));
    return;
  }
  const up = http.request({ ...TARGET, method: req.method, path: req.url, headers: flat(headers), setHost: false, agent: false });
  up.on('response', (r) => {
    const back = [];
    for (let i = 0; i < r.rawHeaders.length; i += 2) if (!HOP_BY_HOP.has(r.rawHeaders[i].toLowerCase())) back.push(r.rawHeaders[i], r.rawHeaders[i + 1]);
    res.writeHead(r.statusCode ?? 502, r.statusMessage, back);
    r.pipe(res);
  });
  // The request asked for an upgrade that proxy.js forwarded to a request without one (or the
  // other way round): the server agreeing to switch here is a tunnel like any other.
  up.on('upgrade', (r, upSocket, upHead) => tunnel(req, req.socket, Buffer.alloc(0), r, upSocket, upHead));
  up.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`Bad gateway: nothing answers at ${TARGET.host}:${TARGET.port} (${err.code ?? err.message}).\n`);
    else res.destroy();
  });
  req.pipe(up);
}

// ---- upgrade requests (the WebSocket handshake) ----

/** An HTTP response written by hand on a socket that left Node's HTTP server (after 'upgrade'). */
function writeHead(socket, status, reason, rawHeaders, body) {
  const lines = [`HTTP/1.1 ${status} ${reason}`];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === 'content-length') continue;
    lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  }
  lines.push(`Content-Length: ${body.length}`, 'Connection: close');
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
}

/** What a response body may hold when the proxy relays it by hand: the rest is cut off. */
const MAX_BODY = 64 * 1024;

function onUpgrade(req, socket, head) {
  socket.on('error', () => {});
  if (opts.answer === 400 || opts.answer === 426) {
    const reason = opts.answer === 426 ? 'Upgrade Required' : 'Bad Request';
    writeHead(socket, opts.answer, reason, ['Content-Type', 'text/plain'], Buffer.from(`${reason}: this proxy does not forward WebSocket handshakes.\n`));
    return;
  }
  let headers;
  try {
    headers = forwardedHeaders(req);
  } catch (err) {
    writeHead(socket, 502, 'Bad Gateway', ['Content-Type', 'text/plain; charset=utf-8'], Buffer.from(configFailed(err)));
    return;
  }
  const up = http.request({ ...TARGET, method: req.method, path: req.url, headers: flat(headers), setHost: false, agent: false });
  up.on('upgrade', (r, upSocket, upHead) => tunnel(req, socket, head, r, upSocket, upHead));
  // No 101: whatever the server answered (ws answers a request without Upgrade with 426) goes
  // back to the client as it came, and the connection ends, as nginx does.
  up.on('response', (r) => {
    const chunks = [];
    let size = 0;
    r.on('data', (c) => {
      if (size < MAX_BODY) chunks.push(c.subarray(0, MAX_BODY - size));
      size += c.length;
    });
    r.on('end', () => writeHead(socket, r.statusCode ?? 502, r.statusMessage ?? '', r.rawHeaders, Buffer.concat(chunks)));
    r.on('error', () => socket.destroy());
  });
  up.on('error', (err) => writeHead(socket, 502, 'Bad Gateway', ['Content-Type', 'text/plain'], Buffer.from(`Bad gateway: nothing answers at ${TARGET.host}:${TARGET.port} (${err.code ?? err.message}).\n`)));
  up.end();
}

/**
 * The server switched protocols: from here the proxy relays bytes both ways without reading
 * them, and cuts both connections when no byte has passed either way for IDLE_MS (nginx's
 * proxy_read_timeout, a cloud load balancer's idle timeout). A cut says nothing to either end:
 * no close frame, only the end of TCP.
 */
function tunnel(req, socket, head, r, upSocket, upHead) {
  const client = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  const upstream = upSocket.localPort;
  const lines = [`HTTP/1.1 ${r.statusCode} ${r.statusMessage}`];
  for (let i = 0; i < r.rawHeaders.length; i += 2) lines.push(`${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  report({ type: 'upgrade', client, upstream, status: r.statusCode });
  if (upHead?.length) socket.write(upHead);
  if (head?.length) upSocket.write(head);
  let last = Date.now();
  let ended = false;
  const touch = () => (last = Date.now());
  let timer = null;
  const watch = () => {
    timer = setTimeout(() => {
      const idle = Date.now() - last;
      if (idle < IDLE_MS) return watch();
      ended = true;
      report({ type: 'cut', client, upstream, idleMs: idle });
      socket.destroy();
      upSocket.destroy();
    }, Math.max(1, IDLE_MS - (Date.now() - last)));
  };
  watch();
  const done = () => {
    if (timer) clearTimeout(timer);
    if (!ended) {
      ended = true;
      socket.destroy();
      upSocket.destroy();
    }
  };
  socket.on('data', touch);
  upSocket.on('data', touch);
  socket.pipe(upSocket);
  upSocket.pipe(socket);
  for (const s of [socket, upSocket]) {
    s.on('error', done);
    s.on('close', done);
  }
  upSocket.setNoDelay(true);
  if (socket instanceof net.Socket) socket.setNoDelay(true);
}

// ---- TLS: what the bytes on the TCP wire are ----

const TLS_TYPES = { 20: 'changeCipherSpec', 21: 'alert', 22: 'handshake', 23: 'applicationData' };
/** What a relayed connection's plaintext would show, if it were not encrypted: looked for in the raw bytes. */
const PLAIN_MARKERS = ['GET ', 'Upgrade', 'websocket'].map((m) => Buffer.from(m, 'latin1'));

/**
 * The TLS record layer of one direction of a connection, read as it passes (RFC 8446 §5.1:
 * a 5-byte header, content type, legacy version, length, then that many bytes): records counted
 * by type, the first header kept. Constant memory: a header split across chunks is kept (4 bytes
 * at most), payloads are skipped, not held.
 */
function recordReader() {
  const r = { records: {}, bytes: 0, first: null, plaintext: false, skip: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0), broken: false };
  r.feed = (chunk) => {
    r.bytes += chunk.length;
    // A plaintext marker split across two chunks is still found: the last few bytes are kept.
    const scan = Buffer.concat([r.tail, chunk]);
    if (!r.plaintext && PLAIN_MARKERS.some((m) => scan.includes(m))) r.plaintext = true;
    r.tail = scan.subarray(Math.max(0, scan.length - 16));
    let i = 0;
    while (i < chunk.length && !r.broken) {
      if (r.skip > 0) {
        const n = Math.min(r.skip, chunk.length - i);
        r.skip -= n;
        i += n;
        continue;
      }
      const need = 5 - r.head.length;
      r.head = Buffer.concat([r.head, chunk.subarray(i, i + need)]);
      i += Math.min(need, chunk.length - i);
      if (r.head.length < 5) break;
      const type = TLS_TYPES[r.head[0]];
      if (!type) {
        r.broken = true; // not TLS (plain HTTP sent to the TLS port): counted no further
        break;
      }
      r.first ??= r.head.toString('hex').replace(/(..)/g, '$1 ').trim();
      r.records[type] = (r.records[type] ?? 0) + 1;
      r.skip = r.head.readUInt16BE(3);
      r.head = Buffer.alloc(0);
    }
  };
  return r;
}

/**
 * The public TLS port: a TCP relay to the HTTPS server behind it (on an internal port), which
 * reads the TLS records going by (it cannot read inside them) and reports them when the
 * connection ends: what wss:// puts on the wire, beside what the wiretap shows behind the proxy.
 */
function tlsFront(inner) {
  return net.createServer((socket) => {
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    const up = net.connect(inner, '127.0.0.1');
    const fromClient = recordReader();
    const fromProxy = recordReader();
    socket.on('data', (c) => fromClient.feed(c));
    up.on('data', (c) => fromProxy.feed(c));
    socket.pipe(up);
    up.pipe(socket);
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      socket.destroy();
      up.destroy();
      const summary = (r) => ({ bytes: r.bytes, records: r.records, first: r.first, plaintext: r.plaintext, tls: !r.broken && r.first !== null });
      report({ type: 'tls', client, fromClient: summary(fromClient), fromProxy: summary(fromProxy) });
    };
    for (const s of [socket, up]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
}

// ---- start ----

function certOf(host) {
  const c = opts.tls?.sni?.[host];
  return c ? tls.createSecureContext({ cert: c.cert, key: c.key }) : null;
}

const server = opts.tls
  ? https.createServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ALPNProtocols: ['http/1.1'],
      // A client that names the host (SNI) gets its certificate; one that connects by IP address sends no name.
      SNICallback: (name, cb) => cb(null, certOf(name.toLowerCase()) ?? undefined),
    })
  : http.createServer();
server.keepAliveTimeout = 2000;
server.on('request', onRequest);
server.on('upgrade', onUpgrade);
server.on('clientError', (_err, socket) => socket.destroy());
const failed = (err) => {
  report({ type: 'error', message: `The reverse proxy could not listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${err.code ?? err.message}` });
  process.exit(1);
};
server.on('error', failed);
if (opts.tls) {
  server.listen(0, '127.0.0.1', () => {
    const front = tlsFront(server.address().port);
    front.on('error', failed);
    front.listen(Number(opts.port) || 0, opts.host ?? '127.0.0.1', () => report({ type: 'listening', port: front.address().port }));
  });
} else {
  server.listen(Number(opts.port) || 0, opts.host ?? '127.0.0.1', () => report({ type: 'listening', port: server.address().port }));
}
process.on('disconnect', () => process.exit(0));
