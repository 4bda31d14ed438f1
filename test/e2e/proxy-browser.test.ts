/**
 * `wsplay proxy` with real Chromium: an https page (a `ws` server over https, with a certificate
 * from a CA the test makes) opens two wss:// WebSockets, one with permessage-deflate and one
 * without. Chromium runs with the flags `wsplay browser` gives it (the proxy, the local CA's
 * SPKI), so the page loading at all proves Chromium accepts the proxy's certificates. The
 * messages Chromium reports over the DevTools Protocol equal the recorded ones, the pcapng
 * export shows them as plain ws to tshark, and the dashboard shows the connection with its
 * target host and upstream TLS session, and the "Open an intercepted browser" button.
 * Nothing leaves the machine: the proxy runs with --loopback-only (Chromium probes its vendor's
 * hosts; they get a 502 without a connection). Screenshots: test-artifacts/screenshots/proxy-*.png.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium as playwright, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { WireEvent } from '../../server/capture/events.ts';
import { interceptedChromiumArgs } from '../../server/tap/intercepted-browser.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailability, launchChromium, visibleText } from '../helpers/browser.ts';
import { ROOT, runCli, type CliProcess } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { makeTestPki, type TestPki } from '../helpers/tls.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const HAS_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

/** The page: two WebSockets in turn, each sends text, binary and a long text, waits for each echo, then closes. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>wss through the proxy</title>
<script>
async function talk(path) {
  const ws = new WebSocket('wss://' + location.host + path);
  ws.binaryType = 'arraybuffer';
  await new Promise((ok, ko) => { ws.onopen = ok; ws.onerror = () => ko(new Error('error on ' + path)); });
  const echo = () => new Promise((ok) => (ws.onmessage = ok));
  for (const m of ['hello ' + path, new Uint8Array([0, 1, 2, 255]), 'é'.repeat(3000)]) {
    ws.send(m);
    await echo();
  }
  ws.close(1000, 'bye');
  await new Promise((ok) => (ws.onclose = ok));
}
window.done = (async () => { await talk('/plain'); await talk('/deflate'); return 'ok'; })().catch((e) => String(e));
</script><p>wsplay proxy test page</p>`;

interface CdpFrame {
  dir: 'client' | 'server';
  url: string;
  opcode: number;
  payload: string;
}

describe.skipIf(chromium.skip)(chromium.skip ? `wsplay proxy from Chromium: ${chromium.reason}` : 'wsplay proxy from real Chromium', () => {
  let pki: TestPki;
  let server: https.Server;
  let serverPort: number;
  let cli: CliProcess;
  let proxyPort: number;
  let spki: string;
  let caPath: string;
  let context: BrowserContext;
  let tmp: string;
  let recordFile: string;
  const cdpFrames: CdpFrame[] = [];
  const hostsSeen: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureUiBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'wsplay-proxy-e2e-'));
    recordFile = path.join(tmp, 'proxy.jsonl');
    pki = makeTestPki();
    server = https.createServer({ ...pki.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']), ALPNProtocols: ['http/1.1'] }, (_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(PAGE);
    });
    const plain = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const deflate = new WebSocketServer({ noServer: true, perMessageDeflate: true });
    for (const wss of [plain, deflate]) wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
    server.on('upgrade', (req, socket, head) => {
      hostsSeen.push(req.headers.host ?? '');
      const wss = req.url === '/deflate' ? deflate : plain;
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverPort = (server.address() as AddressInfo).port;

    cli = runCli(
      ['proxy', '--port', '0', '--dashboard-port', '0', '--no-open', '--ca', pki.caFile, '--ca-dir', path.join(tmp, 'ca'), '--loopback-only', '--record', recordFile],
      // The dashboard's button starts a Chromium: headless here (no display), the same binary.
      { WSPLAY_SKIP_UI_BUILD: '1', WSPLAY_BROWSER_HEADLESS: '1', CHROMIUM_PATH },
    );
    proxyPort = Number((await cli.line(/^Proxy listening on http:\/\/127\.0\.0\.1:(\d+)$/, 30_000))[1]);
    caPath = (await cli.line(/^CA certificate: (\S+) /))[1]!;
    spki = (await cli.line(/^SPKI: (\S+)$/))[1]!;
    await cli.line(/^Dashboard: (\S+)$/, 30_000);
    expect(readFileSync(caPath, 'utf8')).toContain('-----BEGIN CERTIFICATE-----');

    // The flags wsplay browser gives Chromium; playwright holds the profile folder itself.
    const flags = interceptedChromiumArgs({ proxyPort, spki, profileDir: '' }).filter((a) => !a.startsWith('--user-data-dir='));
    context = await playwright.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...flags] });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await cli?.stop();
    await new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r()));
    pki?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads an https page without certificate errors and its wss:// messages equal what Chromium reports over CDP', async () => {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const urls = new Map<string, string>();
    cdp.on('Network.webSocketCreated', (e) => urls.set(e.requestId, e.url));
    cdp.on('Network.webSocketFrameSent', (e) => cdpFrames.push({ dir: 'client', url: urls.get(e.requestId)!, opcode: e.response.opcode, payload: e.response.payloadData }));
    cdp.on('Network.webSocketFrameReceived', (e) => cdpFrames.push({ dir: 'server', url: urls.get(e.requestId)!, opcode: e.response.opcode, payload: e.response.payloadData }));
    await cdp.send('Network.enable');
    // Chromium accepts the proxy's certificate for localhost only through the SPKI flag: a
    // certificate error would fail this navigation (net::ERR_CERT_AUTHORITY_INVALID).
    const response = await page.goto(`https://localhost:${serverPort}/`);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate(() => (window as unknown as { done: Promise<string> }).done)).toBe('ok');
    const security = await response!.securityDetails();
    expect(security?.issuer).toMatch(/^wsplay local CA/);
    // The server saw its own Host: the proxy changes nothing in the request.
    expect(hostsSeen).toEqual([`localhost:${serverPort}`, `localhost:${serverPort}`]);
    await page.close();

    // Every event is in the recording once the proxy has stopped (the CLI flushes it on SIGTERM).
    await cli.stop();
    const events = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as WireEvent);
    const opens = events.filter((e): e is Extract<WireEvent, { type: 'open' }> => e.type === 'open');
    const handshakes = events.filter((e): e is Extract<WireEvent, { type: 'handshake' }> => e.type === 'handshake' && e.outcome === 'upgraded');
    expect(handshakes.map((h) => h.request?.path)).toEqual(['/plain', '/deflate']);
    for (const h of handshakes) {
      expect(opens.find((o) => o.conn === h.conn)!.target).toBe(`localhost:${serverPort}`);
      expect(h.tls).toMatchObject({ verified: true, alpn: 'http/1.1', servername: 'localhost', issuer: 'CN=wsplay test CA' });
    }
    const deflateConn = handshakes[1]!.conn;
    for (const [h, pathName] of [
      [handshakes[0]!, '/plain'],
      [handshakes[1]!, '/deflate'],
    ] as const) {
      const recorded = events
        .filter((e): e is Extract<WireEvent, { type: 'message' }> => e.type === 'message' && e.conn === h.conn)
        .map((m) => ({ dir: m.dir, opcode: m.opcode, payload: m.opcode === 1 ? m.text : m.base64 }));
      const reported = cdpFrames.filter((f) => f.url.endsWith(pathName) && (f.opcode === 1 || f.opcode === 2)).map((f) => ({ dir: f.dir, opcode: f.opcode, payload: f.payload }));
      expect(reported).toHaveLength(6);
      expect(recorded).toEqual(reported);
    }
    expect(events.filter((e) => e.type === 'message' && e.conn === deflateConn).every((m) => (m as { compressed?: boolean }).compressed === true)).toBe(true);
    expect(events.filter((e) => e.type === 'violation')).toEqual([]);

    // The pcapng export: tshark sees plain ws:// frames with the same texts.
    if (!HAS_TSHARK) return;
    const pcap = path.join(tmp, 'proxy.pcapng');
    execFileSync(process.execPath, ['server/bin/wsplay.js', 'export', recordFile, '--format', 'pcapng', '-o', pcap], { cwd: ROOT, stdio: 'ignore' });
    const texts = execFileSync('tshark', ['-r', pcap, '-Y', 'websocket.payload.text', '-T', 'fields', '-e', 'websocket.payload.text'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('hello '));
    expect(texts.sort()).toEqual(['hello /deflate', 'hello /deflate', 'hello /plain', 'hello /plain']);
  }, 120_000);
});

describe.skipIf(chromium.skip)(chromium.skip ? `the dashboard under wsplay proxy: ${chromium.reason}` : 'the dashboard under wsplay proxy, in real Chromium', () => {
  // Its own proxy: the first suite stops its CLI to read the recording.
  let pki: TestPki;
  let server: https.Server;
  let serverPort: number;
  let cli: CliProcess;
  let dashboardUrl: string;
  let proxyPort: number;
  let context: BrowserContext;
  let dashboardBrowser: Browser;
  let tmp: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureUiBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'wsplay-proxy-ui-'));
    pki = makeTestPki();
    server = https.createServer({ ...pki.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']), ALPNProtocols: ['http/1.1'] }, (_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(PAGE.replace("await talk('/deflate'); ", ''));
    });
    const wss = new WebSocketServer({ server, perMessageDeflate: true });
    wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverPort = (server.address() as AddressInfo).port;
    cli = runCli(['proxy', '--port', '0', '--dashboard-port', '0', '--no-open', '--ca', pki.caFile, '--ca-dir', path.join(tmp, 'ca'), '--loopback-only'], {
      WSPLAY_SKIP_UI_BUILD: '1',
      WSPLAY_BROWSER_HEADLESS: '1',
      CHROMIUM_PATH,
    });
    proxyPort = Number((await cli.line(/^Proxy listening on http:\/\/127\.0\.0\.1:(\d+)$/, 30_000))[1]);
    const spki = (await cli.line(/^SPKI: (\S+)$/))[1]!;
    dashboardUrl = (await cli.line(/^Dashboard: (\S+)$/, 30_000))[1]!;
    const flags = interceptedChromiumArgs({ proxyPort, spki, profileDir: '' }).filter((a) => !a.startsWith('--user-data-dir='));
    context = await playwright.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...flags] });
    const page = await context.newPage();
    await page.goto(`https://localhost:${serverPort}/`);
    expect(await page.evaluate(() => (window as unknown as { done: Promise<string> }).done)).toBe('ok');
    await page.close();
    // The dashboard in a browser of its own: through the proxy, its event stream would capture itself.
    dashboardBrowser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await dashboardBrowser?.close();
    await cli?.stop();
    await new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r()));
    pki?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const width of [1280, 1024]) {
    it(`shows the proxied wss:// connection with its target host and TLS session at ${width} px`, async () => {
      const page = await dashboardBrowser.newPage({ viewport: { width, height: 900 }, colorScheme: 'light' });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.setDefaultTimeout(10_000);
      await page.goto(dashboardUrl);
      expect(await visibleText(page.locator('.topology.tap'))).toBe(`browsers → proxy http://127.0.0.1:${proxyPort}`);
      await expect.poll(() => page.getByRole('button', { name: 'Open an intercepted browser' }).isVisible()).toBe(true);
      // The page load is an HTTP exchange; the WebSocket is the connection with a handshake.
      const row = page.getByRole('listbox', { name: 'Connections' }).getByRole('option').filter({ hasText: `→ localhost:${serverPort}` }).filter({ hasText: 'msg' });
      await row.first().click();
      const details = page.getByRole('region', { name: 'Details' });
      await details.getByRole('tab', { name: 'Handshake' }).click();
      const tls = await visibleText(details.getByRole('group', { name: 'TLS session with the server' }));
      expect(tls).toContain('ALPN http/1.1');
      expect(tls).toContain('CN=wsplay test CA');
      expect(tls).toMatch(/Checked\s+verified for localhost/);
      expect(tls).toMatch(/The browser's TLS \(TLSv1\.3, TLS_\w+\) ended at wsplay's proxy, with a certificate for localhost from the local CA/);
      const sent = await visibleText(details.getByLabel('HTTP request as sent'));
      expect(sent).toContain(`Host: localhost:${serverPort}`);
      expect(sent).toContain(`Origin: https://localhost:${serverPort}`);
      await details.getByRole('group', { name: 'TLS session with the server' }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(SHOTS, `proxy-handshake-${width}.png`) });
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it('"Open an intercepted browser" starts a Chromium through the proxy and says where the CA is', async () => {
    const page = await dashboardBrowser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    await page.goto(dashboardUrl);
    await page.getByRole('button', { name: 'Open an intercepted browser' }).click();
    const note = await visibleText(page.getByRole('status').filter({ hasText: 'Intercepted browser started' }), 30_000);
    expect(note).toMatch(new RegExp(`Intercepted browser started \\(pid \\d+\\) through the proxy at http://127\\.0\\.0\\.1:${proxyPort}\\. Only it trusts wsplay's local CA \\(${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/ca/ca\\.pem\\)`));
    await page.screenshot({ path: path.join(SHOTS, 'proxy-intercept-button-1280.png') });
    await page.close();
  });
});
