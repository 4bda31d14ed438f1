/**
 * TLS for the wss:// tests, all local: a CA made in the test (its key in a temp dir) and server
 * certificates it signs, and a `ws` echo server over https with one of them. Keys come from
 * Node's crypto, certificates from node-forge (the library server/tap/local-ca.ts uses): no
 * `openssl` command.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { WebSocketServer } from 'ws';

export interface TestPki {
  dir: string;
  /** Path of the CA certificate (PEM), for --ca. */
  caFile: string;
  /** A certificate (and key) the CA signed for these names, valid from now (days < 0: already expired). */
  issue(name: string, sans: string[], days?: number): { cert: string; key: string };
  remove(): void;
}

const DAY = 24 * 60 * 60 * 1000;

function rsaKey(): { pem: string; priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey } {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem);
  return { pem, priv, pub: forge.pki.setRsaPublicKey(priv.n, priv.e) };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/** "DNS:name" / "IP:addr" (openssl's subjectAltName syntax) as forge's altNames. */
function altName(san: string): { type: number; value?: string; ip?: string } {
  const [kind, value] = [san.slice(0, san.indexOf(':')), san.slice(san.indexOf(':') + 1)];
  if (kind === 'DNS') return { type: 2, value };
  if (kind === 'IP') return { type: 7, ip: value };
  throw new Error(`unsupported subjectAltName "${san}" (DNS:... or IP:...)`);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wsplay-tls-'));
  const caKey = rsaKey();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKey.pub;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(Date.now() - DAY);
  ca.validity.notAfter = new Date(Date.now() + 30 * DAY);
  const caName = [{ name: 'commonName', value: 'wsplay test CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey.priv, forge.md.sha256.create());
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, forge.pki.certificateToPem(ca));
  writeFileSync(path.join(dir, 'ca.key'), caKey.pem, { mode: 0o600 });
  return {
    dir,
    caFile,
    issue(name, sans, days = 30) {
      const key = rsaKey();
      const cert = forge.pki.createCertificate();
      cert.publicKey = key.pub;
      cert.serialNumber = serial();
      const now = Date.now();
      // An expired one ended `-days` days ago, having been valid for a day before that.
      cert.validity.notBefore = new Date(days < 0 ? now + (days - 1) * DAY : now - 60_000);
      cert.validity.notAfter = new Date(now + days * DAY);
      cert.setSubject([{ name: 'commonName', value: name }]);
      cert.setIssuer(caName);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: sans.map(altName) },
      ]);
      cert.sign(caKey.priv, forge.md.sha256.create());
      return { cert: forge.pki.certificateToPem(cert), key: key.pem };
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
