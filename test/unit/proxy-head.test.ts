import { describe, expect, it } from 'vitest';
import { isLoopback, parseProxyRequest } from '../../server/tap/proxy.ts';
import { HeadRewriter } from '../../server/tap/upstream.ts';

const head = (s: string) => Buffer.from(s, 'latin1');

describe("the proxy's request line", () => {
  it('reads CONNECT host:port and absolute-form http:// and ws:// requests', () => {
    expect(parseProxyRequest(head('CONNECT Echo.Example.test:443 HTTP/1.1\r\n\r\n'))).toEqual({ host: 'echo.example.test', port: 443, kind: 'connect' });
    expect(parseProxyRequest(head('CONNECT [::1]:8443 HTTP/1.1\r\n\r\n'))).toEqual({ host: '::1', port: 8443, kind: 'connect' });
    expect(parseProxyRequest(head('GET http://127.0.0.1:8080/a?b HTTP/1.1\r\n\r\n'))).toEqual({ host: '127.0.0.1', port: 8080, kind: 'absolute' });
    expect(parseProxyRequest(head('GET http://localhost/ HTTP/1.0\r\n\r\n'))).toEqual({ host: 'localhost', port: 80, kind: 'absolute' });
  });

  it('refuses, with a sentence, what is not a proxy request or names no host', () => {
    for (const bad of [
      'CONNECT host HTTP/1.1\r\n\r\n',
      'CONNECT host:0 HTTP/1.1\r\n\r\n',
      'CONNECT a\u0000b:443 HTTP/1.1\r\n\r\n',
      'CONNECT ev\til.test:443 HTTP/1.1\r\n\r\n',
      'GET https://example.test/ HTTP/1.1\r\n\r\n',
      'GET /index.html HTTP/1.1\r\n\r\n',
      'GET http://exa mple.test/ HTTP/2\r\n\r\n',
      '\u0016\u0003\u0001 hello\r\n\r\n',
    ]) {
      expect(() => parseProxyRequest(head(bad)), JSON.stringify(bad)).toThrow(/./);
    }
  });

  it('tells loopback hosts without asking DNS', () => {
    expect(['localhost', 'app.localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['example.test', '10.0.0.1', '::2', 'localhost.example.test', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});

describe('the absolute-form rewrite (proxy requests for plain http://)', () => {
  const rewriter = () => new HeadRewriter('127.0.0.1:8080', () => false, undefined, true);

  it('forwards origin-form without Proxy-* headers, and asks the server to close after a plain request', () => {
    const r = rewriter();
    const out = r.push(head('GET http://127.0.0.1:8080/page?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\nBODY'), 0);
    expect(out.toString('latin1')).toBe('GET /page?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nConnection: close\r\n\r\nBODY');
  });

  it('keeps an upgrade an upgrade (Connection: Upgrade goes on)', () => {
    const r = rewriter();
    const out = r.push(head('GET ws://127.0.0.1:8080/chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'), 0);
    expect(out.toString('latin1')).toBe('GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(r.forwarded?.path).toBe('/chat');
  });
});
