/** The request-head rewrite of `tap --target wss://` (server/tap/upstream.ts), bytes in, bytes out. */
import { describe, expect, it } from 'vitest';
import { explainTlsError, HeadRewriter, hostHeaderFor, isTapOrigin, MAX_REWRITE_HEAD } from '../../server/tap/upstream.ts';

const TAP_PORT = 9900;
const rewriter = (path?: string) => new HeadRewriter('echo.example:8443', (o) => isTapOrigin(o, () => TAP_PORT), path);
const HEAD =
  'GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Origin: http://127.0.0.1:9900\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const FORWARDED = HEAD.replace('Host: 127.0.0.1:9900', 'Host: echo.example:8443').replace('Origin: http://127.0.0.1:9900', 'Origin: https://echo.example:8443');
const FRAME = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x21 ^ 2]);

function feed(rw: HeadRewriter, chunks: Buffer[]): Buffer {
  return Buffer.concat(chunks.map((c) => rw.push(c, 1)));
}

describe('HeadRewriter', () => {
  it('rewrites Host and an Origin naming the wiretap, and passes the frame after the head byte for byte', () => {
    const rw = rewriter();
    const out = feed(rw, [Buffer.concat([Buffer.from(HEAD, 'latin1'), FRAME])]);
    expect(out.toString('latin1')).toBe(FORWARDED + FRAME.toString('latin1'));
    expect(rw.forwarded?.headers).toContainEqual(['Host', 'echo.example:8443']);
    expect(Buffer.from(rw.forwarded!.raw, 'base64').toString('latin1')).toBe(FORWARDED);
    // After the head, nothing is touched, whatever it looks like.
    const later = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(rw.push(later, 2)).toBe(later);
  });

  it('finds a head split across chunks, down to one byte each, and holds it until it is whole', () => {
    const rw = rewriter();
    const all = Buffer.concat([Buffer.from(HEAD, 'latin1'), FRAME]);
    const outs = [...all].map((b) => rw.push(Buffer.from([b]), 1));
    // Nothing goes upstream before the head's last byte; the whole rewritten head goes then.
    const firstOut = outs.findIndex((o) => o.length > 0);
    expect(firstOut).toBe(HEAD.length - 1);
    expect(Buffer.concat(outs).toString('latin1')).toBe(FORWARDED + FRAME.toString('latin1'));
  });

  it('adds Host to a head that has none, after the request line', () => {
    const rw = rewriter();
    const out = feed(rw, [Buffer.from('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n')]);
    expect(out.toString('latin1')).toBe('GET / HTTP/1.1\r\nHost: echo.example:8443\r\nUpgrade: websocket\r\n\r\n');
  });

  it('leaves an Origin of another site as sent', () => {
    const rw = rewriter();
    const head = HEAD.replace('Origin: http://127.0.0.1:9900', 'Origin: https://app.example');
    const out = feed(rw, [Buffer.from(head, 'latin1')]).toString('latin1');
    expect(out).toContain('\r\nOrigin: https://app.example\r\n');
    expect(out).toContain('\r\nHost: echo.example:8443\r\n');
  });

  it("sends a request for / to the target's path, keeping the query", () => {
    const rw = rewriter('/socket');
    const out = feed(rw, [Buffer.from('GET /?room=1 HTTP/1.1\r\nHost: a\r\n\r\n')]).toString('latin1');
    expect(out.split('\r\n')[0]).toBe('GET /socket?room=1 HTTP/1.1');
  });

  it('holds at most the head bound of a huge head, then passes it unchanged', () => {
    const rw = rewriter();
    const chunk = Buffer.alloc(1024, 'a');
    const start = Buffer.from('GET / HTTP/1.1\r\nX-Big: ');
    const outs: Buffer[] = [rw.push(start, 1)];
    const held = outs[0]!.length === 0;
    for (let i = 0; i < 64; i++) outs.push(rw.push(chunk, 1));
    // Released once the bound was reached, not at the end of the 64 KiB.
    const released = outs.findIndex((o) => o.length > 0);
    expect(held).toBe(true);
    expect(released).toBeGreaterThan(0);
    expect(released).toBeLessThanOrEqual(Math.ceil(MAX_REWRITE_HEAD / 1024) + 1);
    expect(Buffer.concat(outs)).toEqual(Buffer.concat([start, ...Array<Buffer>(64).fill(chunk)]));
    expect(rw.forwarded).toBeNull();
  });

  it('passes what is not an HTTP request unchanged', () => {
    const rw = rewriter();
    const junk = Buffer.from('SSH-2.0-OpenSSH\r\n\r\nrest');
    expect(feed(rw, [junk])).toEqual(junk);
    expect(rw.forwarded).toBeNull();
  });

  it('lets a held partial head go as it came when the client ends', () => {
    const rw = rewriter();
    expect(rw.push(Buffer.from('GET / HTTP/1.1\r\nHo'), 1).length).toBe(0);
    expect(rw.flush().toString()).toBe('GET / HTTP/1.1\r\nHo');
  });
});

describe('OpenSSL errors', () => {
  it('are cut to their first line', () => {
    const err = Object.assign(new Error('80AC:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:ssl/record/rec_layer_s3.c:1605:\nSSL alert number 40\n'), { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' });
    const text = explainTlsError(err, 'echo.example', 443);
    expect(text).not.toContain('\n');
    expect(text).toContain('handshake failure (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)');
  });
});

describe('Host and Origin of the target', () => {
  it('names the port only when it is not 443, and brackets IPv6', () => {
    expect(hostHeaderFor('echo.example', 443)).toBe('echo.example');
    expect(hostHeaderFor('echo.example', 8443)).toBe('echo.example:8443');
    expect(hostHeaderFor('::1', 8443)).toBe('[::1]:8443');
  });

  it("recognises only the wiretap's own address as its Origin", () => {
    const tap = () => 9900;
    expect(isTapOrigin('http://127.0.0.1:9900', tap)).toBe(true);
    expect(isTapOrigin('http://localhost:9900', tap)).toBe(true);
    expect(isTapOrigin('http://localhost:9901', tap)).toBe(false);
    expect(isTapOrigin('https://app.example', tap)).toBe(false);
    expect(isTapOrigin('null', tap)).toBe(false);
  });
});

describe('TLS failures as a person reads them', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /a CA this machine does not trust.*--ca FILE/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /a CA this machine does not trust/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /wrong host name, the certificate is not for "echo\.example"/],
    ['CERT_HAS_EXPIRED', /has expired/],
    ['CERT_NOT_YET_VALID', /is not valid yet.*clock/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', /handshake failure, the server does not answer in TLS.*give --target ws:\/\/echo\.example:443.*--ca FILE/],
    ['ECONNRESET', /handshake failure \(ECONNRESET: x\)\. Check that echo\.example:443 speaks TLS/],
  ])('%s names the cause, --ca and --insecure', (code, expected) => {
    const text = explainTlsError(Object.assign(new Error('x'), { code }), 'echo.example', 443);
    expect(text).toMatch(/^TLS to echo\.example:443 failed: /);
    expect(text).toMatch(expected);
    expect(text).toContain('--insecure');
  });
});
