import { describe, expect, it } from 'vitest';
import { parsePort, parseTarget } from '../../server/tap/target.ts';

describe('--target', () => {
  it('accepts ws://HOST:PORT, HOST:PORT, a bare port and [::1]', () => {
    expect(parseTarget('ws://127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseTarget('localhost:3000')).toEqual({ host: 'localhost', port: 3000 });
    expect(parseTarget('9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseTarget('ws://[::1]:81')).toEqual({ host: '::1', port: 81 });
    expect(parseTarget('http://example.test')).toEqual({ host: 'example.test', port: 80 });
  });

  it('explains what to give instead of a bad address', () => {
    expect(() => parseTarget('nonsense:://')).toThrow(/ws:\/\/HOST:PORT/);
    expect(() => parseTarget('ftp://x:21')).toThrow(/scheme ftp/);
  });

  it('says a port past 65535 is out of range, not that the address is no address', () => {
    for (const given of ['ws://127.0.0.1:99999', '127.0.0.1:99999', 'localhost:65536/path', 'ws://[::1]:70000']) {
      expect(() => parseTarget(given)).toThrow(`--target "${given}" has port ${/:(\d+)(?:\/|$)/.exec(given)![1]}, out of range: a port is 1-65535`);
    }
    expect(parseTarget('ws://127.0.0.1:65535')).toEqual({ host: '127.0.0.1', port: 65535 });
  });

  it('reads a wss:// target: TLS, port 443 by default, a path when given', () => {
    expect(parseTarget('wss://echo.test')).toEqual({ host: 'echo.test', port: 443, tls: true });
    expect(parseTarget('wss://echo.test:8443/socket')).toEqual({ host: 'echo.test', port: 8443, tls: true, path: '/socket' });
    expect(parseTarget('wss://[::1]:8443')).toEqual({ host: '::1', port: 8443, tls: true });
    expect(() => parseTarget('wss://echo.test:70000')).toThrow(/out of range/);
  });

  it('reads --port values and refuses others', () => {
    expect(parsePort(undefined, 9900)).toBe(9900);
    expect(parsePort('0', 9900)).toBe(0);
    expect(() => parsePort('http', 9900)).toThrow(/not a port number/);
    expect(() => parsePort('70000', 9900)).toThrow(/not a port number/);
  });
});
