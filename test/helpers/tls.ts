/**
 * TLS for the wss:// tests, all local: a CA made in the test (its key in a temp dir) and server
 * certificates it signs, and a `ws` echo server over https with one of them. Made with the
 * `openssl` command, which the machine has.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';

export interface TestPki {
  dir: string;
  /** Path of the CA certificate (PEM), for --ca. */
  caFile: string;
  /** A certificate (and key) the CA signed for these names, valid from now (days < 0: already expired). */
  issue(name: string, sans: string[], days?: number): { cert: string; key: string };
  remove(): void;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wsplay-tls-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=wsplay test CA']);
  let n = 0;
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    issue(name, sans, days = 30) {
      const base = `s${++n}`;
      writeFileSync(path.join(dir, `${base}.ext`), `subjectAltName=${sans.join(',')}\n`);
      run(['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
      run(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.pem`, '-days', String(days), '-extfile', `${base}.ext`]);
      return { cert: readFileSync(path.join(dir, `${base}.pem`), 'utf8'), key: readFileSync(path.join(dir, `${base}.key`), 'utf8') };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface WssEcho {
  port: number;
  /** The Host, Origin and path of each upgrade request the server got, in order. */
  requests: Array<{ host: string | undefined; origin: string | undefined; url: string | undefined }>;
  close(): Promise<void>;
}

/** A `ws` echo server over https on 127.0.0.1, port 0. */
export function startWssEcho(tlsPair: { cert: string; key: string }, options: { perMessageDeflate?: boolean } = {}): Promise<WssEcho> {
  const server = https.createServer({ cert: tlsPair.cert, key: tlsPair.key, ALPNProtocols: ['http/1.1'] });
  const wss = new WebSocketServer({ server, perMessageDeflate: options.perMessageDeflate ?? false });
  const requests: WssEcho['requests'] = [];
  wss.on('connection', (ws, req) => {
    requests.push({ host: req.headers.host, origin: req.headers.origin, url: req.url });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
  });
}
