import { describe, expect, it } from 'vitest';
import type { Direction, EndEvent, HandshakeEvent, WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { hex, ofType } from '../helpers/decode.ts';

type Step = [Direction, Buffer | string];

/** Feed a connection, one step per chunk at time = step index + 1 (or byte by byte), then end it. */
function feed(steps: Step[], byteByByte: boolean, by: EndEvent['by']): WireEvent[] {
  const d = new ConnectionDecoder(7);
  const out: WireEvent[] = [];
  steps.forEach(([dir, data], i) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (!byteByByte) out.push(...d.receive(dir, bytes, i + 1));
    else for (let j = 0; j < bytes.length; j++) out.push(...d.receive(dir, bytes.subarray(j, j + 1), i + 1));
  });
  out.push(...d.end(steps.length + 1, by));
  return out;
}

/** The events of a connection, which must be the same whether TCP delivered it whole or byte by byte. */
function run(steps: Step[], by: EndEvent['by'] = 'client'): WireEvent[] {
  const whole = feed(steps, false, by);
  expect(feed(steps, true, by)).toEqual(whole);
  return whole;
}

function onlyHandshake(events: WireEvent[]): HandshakeEvent {
  const hs = ofType(events, 'handshake');
  expect(hs).toHaveLength(1);
  return hs[0]!;
}

const http = (lines: string[], body = '') => lines.join('\r\n') + '\r\n\r\n' + body;
const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

// Chrome 126 opening ws://127.0.0.1:9900/chat?room=1, header order and case as Chrome sends them.
const CHROME_REQUEST = http([
  'GET /chat?room=1 HTTP/1.1',
  'Host: 127.0.0.1:9900',
  'Connection: Upgrade',
  'Pragma: no-cache',
  'Cache-Control: no-cache',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Upgrade: websocket',
  'Origin: http://127.0.0.1:9900',
  'Sec-WebSocket-Version: 13',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-US,en;q=0.9',
  'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==',
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
]);

// What the ws library answers to it.
const WS_101 = http([
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=',
  'Sec-WebSocket-Extensions: permessage-deflate',
]);

/** A minimal upgrade request with extra header lines, and a 101 with extra header lines. */
const upgradeRequest = (...extra: string[]) =>
  http(['GET / HTTP/1.1', 'Host: localhost:9901', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', ...extra]);
const upgraded = (...extra: string[]) =>
  http(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', ...extra]);

describe('an upgrade the server accepts', () => {
  it('shows a browser request and the 101 as sent: header order and case, raw bytes, a valid Accept', () => {
    const ev = run([['client', CHROME_REQUEST], ['server', WS_101]]);
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({
      conn: 7,
      t: 1,
      outcome: 'upgraded',
      key: 'x3JJHMbDL1EzLkh9GBhXDw==',
      expectedAccept: 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=',
      accept: 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=',
      acceptValid: true,
      offeredExtensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      extensions: [{ name: 'permessage-deflate', params: [] }],
      offeredSubprotocols: [],
      subprotocol: null,
      deflate: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      problems: [],
    });
    expect(hs.request).toEqual({
      method: 'GET',
      path: '/chat?room=1',
      version: 'HTTP/1.1',
      headers: [
        ['Host', '127.0.0.1:9900'],
        ['Connection', 'Upgrade'],
        ['Pragma', 'no-cache'],
        ['Cache-Control', 'no-cache'],
        ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'],
        ['Upgrade', 'websocket'],
        ['Origin', 'http://127.0.0.1:9900'],
        ['Sec-WebSocket-Version', '13'],
        ['Accept-Encoding', 'gzip, deflate, br, zstd'],
        ['Accept-Language', 'en-US,en;q=0.9'],
        ['Sec-WebSocket-Key', 'x3JJHMbDL1EzLkh9GBhXDw=='],
        ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'],
      ],
      raw: b64(CHROME_REQUEST),
      t: 1,
    });
    expect(hs.response).toEqual({
      version: 'HTTP/1.1',
      status: 101,
      reason: 'Switching Protocols',
      headers: [
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Accept', 'HSmrc0sMlYUkAGmm5OPpG2HaGWk='],
        ['Sec-WebSocket-Extensions', 'permessage-deflate'],
      ],
      raw: b64(WS_101),
      t: 2,
    });
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('keeps lower-case and odd-case header names as sent and still recognises the upgrade', () => {
    const request = http([
      'GET /socket HTTP/1.1',
      'host: localhost',
      'UPGRADE: WebSocket',
      'connection: keep-alive, Upgrade',
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version: 13',
    ]);
    const response = http(['HTTP/1.1 101 Switching Protocols', 'upgrade: websocket', 'connection: upgrade', 'sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
    const hs = onlyHandshake(run([['client', request], ['server', response]]));
    expect(hs).toMatchObject({ outcome: 'upgraded', acceptValid: true, problems: [] });
    expect(hs.request!.headers.map(([n]) => n)).toEqual(['host', 'UPGRADE', 'connection', 'sec-websocket-key', 'sec-websocket-version']);
    expect(hs.response!.headers[2]).toEqual(['sec-websocket-accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
  });

  it('reports a wrong Sec-WebSocket-Accept (the key sent back unhashed) as invalid, with the expected value', () => {
    const wrong = upgraded().replace('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'dGhlIHNhbXBsZSBub25jZQ==');
    const hs = onlyHandshake(run([['client', upgradeRequest()], ['server', wrong]]));
    expect(hs).toMatchObject({ outcome: 'upgraded', accept: 'dGhlIHNhbXBsZSBub25jZQ==', expectedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', acceptValid: false });
    expect(hs.problems).toEqual(['Sec-WebSocket-Accept is "dGhlIHNhbXBsZSBub25jZQ==" but the key gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (§4.2.2).']);
  });

  it("keeps the dashboard's credentials out of the captured request head, at the same length", () => {
    const secret = 'Zm9vYmFyYmF6cXV4cXV1eHF1dXgtc2VjcmV0';
    const request = upgradeRequest().replace('\r\n\r\n', `\r\nCookie: theme=dark; wsplay_token=${secret}; wsplay_grant=${secret}x;lang=en\r\nx-wsplay-token: ${secret}\r\n\r\n`);
    const hs = onlyHandshake(run([['client', request], ['server', upgraded()]]));
    const raw = Buffer.from(hs.request!.raw, 'base64').toString('latin1');
    expect(raw).not.toContain(secret);
    expect(raw.length).toBe(request.length);
    const stars = '*'.repeat(secret.length);
    expect(hs.request!.headers).toContainEqual(['Cookie', `theme=dark; wsplay_token=${stars}; wsplay_grant=${stars}*;lang=en`]);
    expect(hs.request!.headers).toContainEqual(['x-wsplay-token', stars]);
    expect(hs).toMatchObject({ acceptValid: true, problems: [] });
  });

  it('says a 101 answered a request head too large to read, not that the key gives "null"', () => {
    // A 1 MiB request head: past the bound a head is read to, so there is no key to check.
    const huge = upgradeRequest().replace('\r\n\r\n', `\r\nX-Padding: ${'a'.repeat(1024 * 1024)}\r\n\r\n`);
    const events = run([['client', huge], ['server', upgraded()]]);
    expect(events.filter((e) => e.type === 'violation').map((e) => (e as { rule: string }).rule)).toEqual(['handshake-too-large']);
    const hs = onlyHandshake(events);
    expect(hs).toMatchObject({ outcome: 'upgraded', request: null, acceptValid: false });
    expect(hs.problems).toEqual([
      'The server answered 101 to a request head the wiretap could not read (larger than its bound for an HTTP head, or never sent), so Sec-WebSocket-Accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" cannot be checked against a Sec-WebSocket-Key (§4.2.2).',
    ]);
    expect(hs.problems.join(' ')).not.toContain('null');
  });

  it('reports a 101 without Sec-WebSocket-Accept', () => {
    const noAccept = http(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade']);
    const hs = onlyHandshake(run([['client', upgradeRequest()], ['server', noAccept]]));
    expect(hs.acceptValid).toBe(false);
    expect(hs.problems).toEqual(['The 101 response has no Sec-WebSocket-Accept (§4.2.2).']);
  });

  it('lists what is wrong with a request that is not a valid opening handshake', () => {
    const bad = http(['GET / HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Sec-WebSocket-Key: short', 'Sec-WebSocket-Version: 8']);
    const hs = onlyHandshake(run([['client', bad], ['server', upgraded()]]));
    expect(hs.problems).toEqual(
      expect.arrayContaining([
        'The request has no "Connection: Upgrade" header (§4.1).',
        'Sec-WebSocket-Version is "8"; it must be 13 (§4.1).',
        'Sec-WebSocket-Key "short" is not 16 random bytes in base64 (§4.1).',
      ]),
    );
  });

  it('shows the subprotocols offered and the one the server picked', () => {
    const hs = onlyHandshake(run([['client', upgradeRequest('Sec-WebSocket-Protocol: chat, superchat')], ['server', upgraded('Sec-WebSocket-Protocol: chat')]]));
    expect(hs).toMatchObject({ offeredSubprotocols: ['chat', 'superchat'], subprotocol: 'chat', problems: [] });
  });

  it('gathers subprotocols offered on several header lines', () => {
    const hs = onlyHandshake(run([['client', upgradeRequest('Sec-WebSocket-Protocol: v2.graphql', 'Sec-WebSocket-Protocol: graphql-ws')], ['server', upgraded()]]));
    expect(hs).toMatchObject({ offeredSubprotocols: ['v2.graphql', 'graphql-ws'], subprotocol: null });
  });

  it('flags a subprotocol the client did not offer', () => {
    const hs = onlyHandshake(run([['client', upgradeRequest('Sec-WebSocket-Protocol: chat')], ['server', upgraded('Sec-WebSocket-Protocol: mqtt')]]));
    expect(hs.subprotocol).toBe('mqtt');
    expect(hs.problems).toEqual(['The server picked subprotocol "mqtt", which the client did not offer (§4.1).']);
  });

  it('parses offered extensions with parameters, quoted values and several header lines, in order', () => {
    const request = upgradeRequest(
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-webkit-deflate-frame',
      'Sec-WebSocket-Extensions: x-custom; list="a,b;c"; flag',
    );
    const hs = onlyHandshake(run([['client', request], ['server', upgraded()]]));
    expect(hs.offeredExtensions).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true], ['server_max_window_bits', '10']] },
      { name: 'x-webkit-deflate-frame', params: [] },
      { name: 'x-custom', params: [['list', 'a,b;c'], ['flag', true]] },
    ]);
    expect(hs.extensions).toEqual([]);
    expect(hs.deflate).toBeNull();
  });

  it('reads the permessage-deflate parameters the server accepted', () => {
    const request = upgradeRequest('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits');
    const response = upgraded('Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    const hs = onlyHandshake(run([['client', request], ['server', response]]));
    expect(hs.extensions).toEqual([{ name: 'permessage-deflate', params: [['server_no_context_takeover', true], ['client_max_window_bits', '10']] }]);
    expect(hs.deflate).toEqual({ serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 });
  });

  it('reads quoted window bits and client_no_context_takeover', () => {
    const request = upgradeRequest('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits');
    const response = upgraded('Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits="8"; client_no_context_takeover; client_max_window_bits=12');
    const hs = onlyHandshake(run([['client', request], ['server', response]]));
    expect(hs.deflate).toEqual({ serverNoContextTakeover: false, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 12 });
  });

  it('flags an extension the server accepted but the client never offered', () => {
    const hs = onlyHandshake(run([['client', upgradeRequest()], ['server', upgraded('Sec-WebSocket-Extensions: permessage-deflate')]]));
    expect(hs.problems).toEqual(['The server accepted extension "permessage-deflate", which the client did not offer (§9.1).']);
  });
});

// A browser tab opening http://127.0.0.1:9900/ (the tutorial's address typed into the address bar).
const BROWSER_GET = http([
  'GET / HTTP/1.1',
  'Host: 127.0.0.1:9900',
  'Connection: keep-alive',
  'Upgrade-Insecure-Requests: 1',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-US,en;q=0.9',
]);

// What a ws server answers to a request that is not an upgrade.
const UPGRADE_REQUIRED = http(
  ['HTTP/1.1 426 Upgrade Required', 'Content-Length: 16', 'Content-Type: text/plain', 'Date: Wed, 25 Nov 2026 17:00:00 GMT', 'Connection: keep-alive', 'Keep-Alive: timeout=5'],
  'Upgrade Required',
);

describe('plain HTTP and refused upgrades', () => {
  it('shows a browser GET answered 426 as plain HTTP, with the body text', () => {
    const ev = run([['client', BROWSER_GET], ['server', UPGRADE_REQUIRED]]);
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({ outcome: 'plain-http', key: null, accept: null, acceptValid: false, deflate: null, problems: [] });
    expect(hs.request).toMatchObject({ method: 'GET', path: '/', raw: b64(BROWSER_GET) });
    expect(hs.response).toMatchObject({ status: 426, reason: 'Upgrade Required', body: 'Upgrade Required', raw: b64(UPGRADE_REQUIRED.slice(0, -16)), t: 2 });
    expect(ofType(ev, 'end')).toMatchObject([{ code: null, serverCode: null, clean: false, explanation: 'no WebSocket was established' }]);
  });

  it('emits the 426 as soon as its body is complete, before the connection ends', () => {
    const d = new ConnectionDecoder(1);
    d.receive('client', Buffer.from(BROWSER_GET), 1);
    const events = d.receive('server', Buffer.from(UPGRADE_REQUIRED), 2);
    expect(ofType(events, 'handshake')).toMatchObject([{ outcome: 'plain-http', response: { body: 'Upgrade Required' } }]);
  });

  it('keeps a body that lasts until the connection closes (no Content-Length)', () => {
    const response = http(['HTTP/1.0 426 Upgrade Required', 'Content-Type: text/plain'], 'This service requires use of the WebSocket protocol');
    const hs = onlyHandshake(run([['client', BROWSER_GET], ['server', response]], 'server'));
    expect(hs.response).toMatchObject({ version: 'HTTP/1.0', status: 426, body: 'This service requires use of the WebSocket protocol' });
  });

  it('shows an upgrade refused with 400 Bad Request as refused, with why the request was wrong', () => {
    const body = 'Missing or invalid Sec-WebSocket-Version header';
    const response = http(['HTTP/1.1 400 Bad Request', 'Connection: close', 'Content-Type: text/html', `Content-Length: ${body.length}`], body);
    const ev = run([['client', upgradeRequest().replace('Version: 13', 'Version: 8')], ['server', response]], 'server');
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({ outcome: 'refused', response: { status: 400, reason: 'Bad Request', body }, acceptValid: false });
    expect(hs.problems).toEqual(['Sec-WebSocket-Version is "8"; it must be 13 (§4.1).']);
    expect(ofType(ev, 'end')).toMatchObject([{ by: 'server', code: null, serverCode: null }]);
  });

  it('shows an upgrade refused with 403 Forbidden (an Origin the server does not allow) as refused', () => {
    const response = http(['HTTP/1.1 403 Forbidden', 'Connection: close', 'Content-Type: text/html', 'Content-Length: 9'], 'Forbidden');
    const hs = onlyHandshake(run([['client', upgradeRequest('Origin: https://evil.example')], ['server', response]], 'server'));
    expect(hs).toMatchObject({ outcome: 'refused', key: 'dGhlIHNhbXBsZSBub25jZQ==', response: { status: 403, body: 'Forbidden' }, problems: [] });
  });

  it('shows each exchange of a keep-alive connection with two plain requests', () => {
    const page = http(['HTTP/1.1 200 OK', 'Content-Type: text/html', 'Content-Length: 11'], '<h1>hi</h1>');
    const favicon = http(['GET /favicon.ico HTTP/1.1', 'Host: 127.0.0.1:9900', 'Connection: keep-alive']);
    const notFound = http(['HTTP/1.1 404 Not Found', 'Content-Length: 9'], 'Not Found');
    const ev = run([['client', BROWSER_GET], ['server', page], ['client', favicon], ['server', notFound]]);
    const hs = ofType(ev, 'handshake');
    expect(hs.map((h) => [h.outcome, h.request!.path, h.response!.status, h.response!.body])).toEqual([
      ['plain-http', '/', 200, '<h1>hi</h1>'],
      ['plain-http', '/favicon.ico', 404, 'Not Found'],
    ]);
    expect(ofType(ev, 'end')[0]).toMatchObject({ code: null, bytes: { client: BROWSER_GET.length + favicon.length, server: page.length + notFound.length } });
  });

  it('pairs pipelined requests with their responses when each side sends both in one chunk', () => {
    const a = http(['GET /a HTTP/1.1', 'Host: x']);
    const b = http(['GET /b HTTP/1.1', 'Host: x']);
    const ra = http(['HTTP/1.1 200 OK', 'Content-Length: 1'], 'A');
    const rb = http(['HTTP/1.1 204 No Content']);
    const hs = ofType(run([['client', a + b], ['server', ra + rb]]), 'handshake');
    expect(hs.map((h) => [h.request!.path, h.response!.status, h.response!.body])).toEqual([
      ['/a', 200, 'A'],
      ['/b', 204, undefined],
    ]);
  });

  it('reads an upgrade request that follows a plain request on the same connection', () => {
    const ok = http(['HTTP/1.1 200 OK', 'Content-Length: 2'], 'ok');
    const ev = run([['client', BROWSER_GET], ['server', ok], ['client', upgradeRequest()], ['server', upgraded()]]);
    expect(ofType(ev, 'handshake').map((h) => h.outcome)).toEqual(['plain-http', 'upgraded']);
  });
});

describe('handshakes that never finish', () => {
  it('calls a connection that ends before the response incomplete, keeping the request', () => {
    const ev = run([['client', CHROME_REQUEST]]);
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({ outcome: 'incomplete', response: null, key: 'x3JJHMbDL1EzLkh9GBhXDw==', request: { path: '/chat?room=1' } });
    expect(hs.problems).toEqual(['The connection ended before the server answered the request.']);
    expect(ofType(ev, 'end')).toMatchObject([{ code: null, serverCode: null, bytes: { client: CHROME_REQUEST.length, server: 0 } }]);
  });

  it('calls a connection that ends in the middle of the request head incomplete, saying how much came', () => {
    const hs = onlyHandshake(run([['client', CHROME_REQUEST.slice(0, 40)]]));
    expect(hs).toMatchObject({ outcome: 'incomplete', request: null, response: null });
    expect(hs.problems).toEqual(['The connection ended in the middle of the request (40 bytes of an unfinished HTTP head).']);
  });

  it('calls a connection where the client sent nothing incomplete', () => {
    const hs = onlyHandshake(run([]));
    expect(hs).toMatchObject({ outcome: 'incomplete', request: null });
    expect(hs.problems).toEqual(['The connection ended before the client sent anything.']);
  });
});

describe('connections that are not HTTP', () => {
  // The first bytes of a TLS 1.2 ClientHello: a client using wss:// against a ws:// server.
  const CLIENT_HELLO = hex('16 03 01 02 00 01 00 01 fc 03 03 5a 8c 1e 4f 00 11 22 33');

  it('shows a client that opens with a TLS handshake as not HTTP, and says what it probably is', () => {
    const ev = run([['client', CLIENT_HELLO]], 'server');
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({ outcome: 'not-http', request: null, response: null });
    expect(hs.problems).toHaveLength(1);
    expect(hs.problems[0]).toContain('0x16');
    expect(hs.problems[0]).toContain('wss://');
    expect(ofType(ev, 'end')).toMatchObject([{ code: null, bytes: { client: CLIENT_HELLO.length, server: 0 } }]);
  });

  it('shows a client that sends a line of text as not HTTP, quoting it', () => {
    const hs = onlyHandshake(run([['client', 'hello server\r\n\r\n']]));
    expect(hs.outcome).toBe('not-http');
    expect(hs.problems).toEqual(['The client\'s first bytes are not an HTTP request ("hello server...."), so this is not a WebSocket connection.']);
  });

  it('shows a target that is not an HTTP server (an SSH banner) as not HTTP', () => {
    const ev = run([['server', 'SSH-2.0-OpenSSH_9.6\r\n'], ['client', upgradeRequest()]], 'server');
    const hs = onlyHandshake(ev);
    expect(hs).toMatchObject({ outcome: 'not-http' });
    expect(hs.problems[0]).toMatch(/^The server answered with something that is not HTTP/);
    expect(ofType(ev, 'frame')).toEqual([]);
  });
});

describe('a refusal sent with chunked transfer encoding', () => {
  it('is complete at its last chunk, with the body text joined, and the next response on the same connection is read', async () => {
    const { ConnectionDecoder } = await import('../../server/protocol/connection-decoder.ts');
    const d = new ConnectionDecoder(1);
    const ev = [
      ...d.receive('client', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n'), 1),
      ...d.receive('server', Buffer.from('HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nUpgra\r\n'), 2),
      ...d.receive('server', Buffer.from('9;ext=1\r\nde needed\r\n0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'), 3),
    ];
    const hs = ev.filter((e) => e.type === 'handshake');
    expect(hs.map((h) => [h.outcome, h.response?.status, h.response?.body, h.request?.path])).toEqual([
      ['plain-http', 426, 'Upgrade needed', '/'],
      ['plain-http', 404, undefined, '/b'],
    ]);
  });
});
