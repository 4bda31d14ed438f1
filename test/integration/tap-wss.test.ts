/**
 * `wsplay tap --target wss://`: the wiretap speaks TLS to a `ws` server over https made in the
 * test, with a certificate from a CA made in the test. All local, port 0, no network.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WireEvent } from '../../server/capture/events.ts';
import { parseFaultArg } from '../../server/tap/faults.ts';
import { readCaFile } from '../../server/tap/upstream.ts';
import { Cleanup, connect, runCli, startTap, type TapHandle } from '../helpers/net.ts';
import { makeTestPki, startWssEcho, type TestPki, type WssEcho } from '../helpers/tls.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let pki: TestPki;
let good: { cert: string; key: string };
beforeAll(() => {
  pki = makeTestPki();
  good = pki.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']);
});
afterAll(() => pki.remove());

async function wssEcho(pair = good, deflate = false): Promise<WssEcho> {
  const s = await startWssEcho(pair, { perMessageDeflate: deflate });
  cleanup.add(() => s.close());
  return s;
}

async function tapTo(server: WssEcho, tls: { ca?: boolean; insecure?: boolean }, onTargetError?: (line: string) => void): Promise<TapHandle> {
  const tap = await startTap(server.port, {
    target: { host: 'localhost', port: server.port },
    tls: { servername: 'localhost', ca: tls.ca ? readCaFile(pki.caFile) : undefined, insecure: tls.insecure === true },
    onTargetError: (_err, explained) => onTargetError?.(explained ?? ''),
  });
  cleanup.add(() => tap.close());
  return tap;
}

/** A client that is expected not to get a WebSocket: resolves once its connection is over. */
function failedClient(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => resolve('opened'));
    ws.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

const header = (headers: Array<[string, string]> | undefined, name: string) => headers?.find(([n]) => n.toLowerCase() === name)?.[1];

describe('tap --target wss://', () => {
  it.each([false, true])('relays an echo over TLS verified with --ca, frames decoded (permessage-deflate %s)', async (deflate) => {
    const server = await wssEcho(good, deflate);
    const tap = await tapTo(server, { ca: true });
    const c = await connect(tap.url, { origin: `http://127.0.0.1:${tap.port}`, perMessageDeflate: deflate });
    cleanup.add(() => c.ws.terminate());
    c.ws.send('hello over TLS');
    expect(await c.next()).toBe('hello over TLS');
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    await c.next();
    c.ws.close(1000, 'done');
    await c.closed;
    const end = await tap.waitFor('end');

    // The frames were decoded in both directions, as on a ws:// target.
    const messages = tap.of(1, 'message');
    expect(messages.map((m) => [m.dir, m.text ?? m.base64])).toEqual([
      ['client', 'hello over TLS'],
      ['server', 'hello over TLS'],
      ['client', 'AAEC/w=='],
      ['server', 'AAEC/w=='],
    ]);
    expect(messages.every((m) => m.compressed === deflate)).toBe(true);
    expect(tap.of(1, 'close').map((e) => [e.dir, e.code])).toEqual([['client', 1000], ['server', 1000]]);
    // The server ends TCP first after the closing handshake (RFC 6455 §7.1.1), as on ws://.
    expect(end).toMatchObject({ clean: true, by: 'server' });
    expect(end.error).toBeUndefined();
    expect(tap.of(1, 'violation')).toEqual([]);

    // The server saw its own Host, and the wiretap's Origin rewritten; the event keeps both heads.
    expect(server.requests).toEqual([{ host: `localhost:${server.port}`, origin: `https://localhost:${server.port}`, url: '/' }]);
    const [h] = tap.of(1, 'handshake');
    expect(h!.outcome).toBe('upgraded');
    expect(header(h!.request?.headers, 'host')).toBe(`127.0.0.1:${tap.port}`);
    expect(header(h!.forwardedRequest?.headers, 'host')).toBe(`localhost:${server.port}`);
    expect(header(h!.forwardedRequest?.headers, 'origin')).toBe(`https://localhost:${server.port}`);
    expect(Buffer.from(h!.forwardedRequest!.raw, 'base64').toString('latin1')).toContain(`\r\nHost: localhost:${server.port}\r\n`);
    // The rest of the head is forwarded as sent.
    expect(header(h!.forwardedRequest?.headers, 'sec-websocket-key')).toBe(header(h!.request?.headers, 'sec-websocket-key'));
    expect(h!.tls).toMatchObject({ verified: true, insecure: false, alpn: 'http/1.1', servername: 'localhost', subject: 'CN=localhost', issuer: 'CN=wsplay test CA' });
    expect(h!.tls!.version).toMatch(/^TLSv1\.[23]$/);
    expect(h!.tls!.cipher).not.toBe('unknown');
    expect(h!.tls!.validTo).toMatch(/GMT$/);
    // Byte for byte: the frames' bytes in each direction are those of the client's stream.
    const frames = tap.of(1, 'frame');
    expect(frames.filter((f) => f.dir === 'client').every((f) => f.masked)).toBe(true);
    expect(frames.filter((f) => f.dir === 'server').every((f) => !f.masked)).toBe(true);
  });

  it("rewrites the head on the faults path too: the client's bytes split into 1-byte TCP writes", async () => {
    const server = await wssEcho();
    const tap = await tapTo(server, { ca: true });
    tap.tap.faults.add(parseFaultArg('split=1,dir=client'));
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    c.ws.send('one byte at a time');
    expect(await c.next()).toBe('one byte at a time');
    expect(server.requests.map((r) => r.host)).toEqual([`localhost:${server.port}`]);
    const [h] = tap.of(1, 'handshake');
    expect(header(h!.request?.headers, 'host')).toBe(`127.0.0.1:${tap.port}`);
    expect(header(h!.forwardedRequest?.headers, 'host')).toBe(`localhost:${server.port}`);
  });

  it('without --ca ends each client connection with the cause naming --ca and --insecure, and keeps serving', async () => {
    const server = await wssEcho();
    const lines: string[] = [];
    const tap = await tapTo(server, {}, (line) => lines.push(line));
    for (const n of [1, 2]) {
      expect(await failedClient(tap.url)).toMatch(/^error: /);
      const end = await tap.waitFor('end', (e) => e.conn === n);
      expect(end.by).toBe('wiretap');
      expect(end.error).toMatch(/TLS to localhost:\d+ failed: its certificate is signed by a CA this machine does not trust/);
      expect(end.error).toContain('--ca FILE');
      expect(end.error).toContain('--insecure');
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/--ca.*--insecure/);
    expect(server.requests).toEqual([]);
    expect(tap.tap.connections).toBe(0);
  });

  it('--insecure works without the CA and says the certificate is not verified', async () => {
    const server = await wssEcho();
    const tap = await tapTo(server, { insecure: true });
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    c.ws.send('unverified');
    expect(await c.next()).toBe('unverified');
    const h = await tap.waitFor('handshake');
    expect(h.tls).toMatchObject({ verified: false, insecure: true, subject: 'CN=localhost' });
    expect(h.tls!.problem).toBe('signed by a CA this machine does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
  });

  it.each([
    ['a wrong host name', () => pki.issue('other.test', ['DNS:other.test']), /wrong host name, the certificate is not for "localhost"/],
    ['an expired certificate', () => pki.issue('localhost', ['DNS:localhost'], -1), /certificate has expired \(CERT_HAS_EXPIRED\)/],
  ])('names %s as the cause', async (_name, make, expected) => {
    const server = await wssEcho(make());
    const tap = await tapTo(server, { ca: true });
    expect(await failedClient(tap.url)).toMatch(/^error: /);
    const end = await tap.waitFor('end');
    expect(end.error).toMatch(expected);
    expect(end.error).toContain('--insecure');
  });

  it('a server that hangs up inside the TLS handshake ends the client, with the cause', async () => {
    const rude = net.createServer((s) => {
      s.resume(); // read, so it sees the wiretap hang up too
      s.end();
    });
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise((resolve) => rude.close(resolve)));
    const lines: string[] = [];
    const tap = await startTap((rude.address() as net.AddressInfo).port, { tls: { servername: '127.0.0.1' }, onTargetError: (_e, line) => lines.push(line ?? '') });
    cleanup.add(() => tap.close());
    expect(await failedClient(tap.url)).toMatch(/^error: /);
    const end = await tap.waitFor('end');
    expect(lines).toEqual([end.error]);
    expect(end.error).toMatch(/handshake failure \(ECONNRESET: the server closed the connection during the TLS handshake\).*--insecure/);
  });

  it('a server that does not speak TLS is a handshake failure', async () => {
    // A plain HTTP server where TLS was expected: it answers the ClientHello with a 400 and closes.
    const plain = net.createServer((s) => s.once('data', () => s.resume().end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise((resolve) => plain.close(resolve)));
    const plainPort = (plain.address() as net.AddressInfo).port;
    const tap = await startTap(plainPort, { tls: { servername: '127.0.0.1' } });
    cleanup.add(() => tap.close());
    const ws = new WebSocket(tap.url);
    ws.on('error', () => {});
    const end = await tap.waitFor('end', undefined, 10_000);
    expect(end.error).toMatch(/handshake failure, the server does not answer in TLS \(ERR_SSL_WRONG_VERSION_NUMBER\)\. If it is a plain server, give --target ws:\/\/127\.0\.0\.1:\d+; .*--ca FILE.*--insecure/);
    ws.terminate();
  });
});

describe('wsplay tap --target wss:// on the command line', () => {
  it('relays with --ca, says when --insecure, and prints one line per TLS failure while serving on', async () => {
    const server = await wssEcho();
    const withCa = runCli(['tap', '--target', `wss://localhost:${server.port}`, '--ca', pki.caFile, '--port', '0', '--no-dashboard']);
    cleanup.add(() => withCa.stop());
    const [, port] = await withCa.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) → wss:\/\/localhost:(\d+)$/, 20_000);
    const c = await connect(`ws://127.0.0.1:${port}`);
    c.ws.send('via the CLI');
    expect(await c.next()).toBe('via the CLI');
    c.ws.close();
    expect(withCa.stdout()).not.toMatch(/NOT verified/);

    const insecure = runCli(['tap', '--target', `wss://localhost:${server.port}`, '--insecure', '--port', '0', '--no-dashboard']);
    cleanup.add(() => insecure.stop());
    const [, port2] = await insecure.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 20_000);
    await insecure.line(/^--insecure: the certificate of localhost is NOT verified/);
    const c2 = await connect(`ws://127.0.0.1:${port2}`);
    c2.ws.send('insecure');
    expect(await c2.next()).toBe('insecure');
    c2.ws.close();

    const noCa = runCli(['tap', '--target', `wss://localhost:${server.port}`, '--port', '0', '--no-dashboard']);
    cleanup.add(() => noCa.stop());
    const [, port3] = await noCa.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 20_000);
    expect(await failedClient(`ws://127.0.0.1:${port3}`)).toMatch(/^error: /);
    const [line] = await noCa.line(/^TLS to localhost:\d+ failed: .*/);
    expect(line).toMatch(/does not trust.*--ca FILE.*--insecure/);
    // Still serving: the next client is accepted (and told the same).
    expect(await failedClient(`ws://127.0.0.1:${port3}`)).toMatch(/^error: /);
    expect(noCa.child.exitCode).toBeNull();
  });
});

export type { WireEvent };
