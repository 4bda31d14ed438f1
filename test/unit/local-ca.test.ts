import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { CaError, loadOrCreateCa, MAX_CACHED_HOSTS } from '../../server/tap/local-ca.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'wsplay-ca-'));
  dirs.push(d);
  return path.join(d, 'ca');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The certificates of a PEM bundle, in order. */
function pems(bundle: string): X509Certificate[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

describe('local CA', () => {
  it('is made on first use with its key readable by the user only, and loaded again unchanged', async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa(dir);
    expect(ca.certPath).toBe(path.join(dir, 'ca.pem'));
    expect(statSync(path.join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    const again = await loadOrCreateCa(dir);
    expect(again.spki).toBe(ca.spki);
    expect(again.certPem).toBe(ca.certPem);
  });

  it('is made once when several wsplays start at once: each gets the CA on disk, whose key is its certificate\'s', async () => {
    const dir = tempDir();
    const cas = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateCa(dir)));
    const onDisk = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    const keyOnDisk = readFileSync(path.join(dir, 'ca-key.pem'), 'utf8');
    for (const ca of cas) {
      expect(ca.certPem).toBe(onDisk);
      expect(ca.keyPem).toBe(keyOnDisk);
    }
    const publicOfKey = createPublicKey(createPrivateKey(keyOnDisk)).export({ type: 'spki', format: 'der' });
    expect(new X509Certificate(onDisk).publicKey.export({ type: 'spki', format: 'der' }).equals(publicOfKey)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['ca-key.pem', 'ca.pem']); // no temporary file left
  });

  it('gives the SPKI as base64 of the SHA-256 of the CA certificate\'s SubjectPublicKeyInfo', async () => {
    const ca = await loadOrCreateCa(tempDir());
    const der = new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
    expect(ca.spki).toBe(createHash('sha256').update(der).digest('base64'));
    expect(Buffer.from(ca.spki, 'base64')).toHaveLength(32);
  });

  it('issues a server certificate for a name and for an IP that verifies against the CA, with the CA in the chain', async () => {
    const ca = await loadOrCreateCa(tempDir());
    const caCert = new X509Certificate(ca.certPem);
    for (const host of ['echo.example.test', '127.0.0.1', '::1']) {
      const [leaf, chained, ...more] = pems(ca.issue(host).cert);
      expect(more).toHaveLength(0);
      expect(chained!.fingerprint256).toBe(caCert.fingerprint256);
      expect(leaf!.verify(caCert.publicKey)).toBe(true);
      expect(leaf!.checkIssued(caCert)).toBe(true);
      expect(leaf!.ca).toBe(false);
      if (host.includes('.') && !/^\d/.test(host)) expect(leaf!.checkHost(host)).toBe(host);
      else expect(leaf!.checkIP(host)).toBe(host);
      expect(leaf!.checkHost('other.example.test')).toBeUndefined();
      expect(leaf!.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    }
  });

  it('serves a TLS handshake that a client trusting only this CA accepts', async () => {
    const ca = await loadOrCreateCa(tempDir());
    const server = tls.createServer({ ...ca.issue('localhost'), ALPNProtocols: ['http/1.1'] }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const authorized = await new Promise<boolean>((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: [ca.certPem] }, () => {
          resolve(c.authorized);
          c.destroy();
        });
        c.on('error', reject);
      });
      expect(authorized).toBe(true);
      // And one that does not trust it refuses the same certificate.
      const refused = await new Promise<string>((resolve) => {
        const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost' }, () => resolve('accepted'));
        c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|ISSUER/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('keeps the certificates of the last hosts only, and refuses a host that is not a name', async () => {
    const ca = await loadOrCreateCa(tempDir());
    const first = ca.issue('a0.example.test');
    expect(ca.issue('A0.example.test')).toBe(first);
    for (let i = 1; i <= MAX_CACHED_HOSTS; i++) ca.issue(`a${i}.example.test`);
    const reissued = ca.issue('a0.example.test');
    expect(reissued).not.toBe(first);
    expect(pems(reissued.cert)[0]!.serialNumber).not.toBe(pems(first.cert)[0]!.serialNumber);
    for (const bad of ['evil.test\r\nX-Injected: 1', '', 'a'.repeat(300), 'under score..test', '-lead.test']) {
      expect(() => ca.issue(bad)).toThrow(CaError);
    }
  }, 60_000);

  it('says what to do with a folder holding half a CA or a file that is not one', async () => {
    const dir = tempDir();
    await loadOrCreateCa(dir);
    unlinkSync(path.join(dir, 'ca.pem'));
    // Left so a minute ago (a younger key may be another wsplay's, still writing: it waits for that).
    const before = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, 'ca-key.pem'), before, before);
    await expect(loadOrCreateCa(dir)).rejects.toThrow(/incomplete: .*ca-key\.pem is there but .*ca\.pem is not\. Remove/);
    writeFileSync(path.join(dir, 'ca.pem'), 'not a certificate\n');
    await expect(loadOrCreateCa(dir)).rejects.toThrow(/ca\.pem is not a certificate wsplay can read.*Remove/);
  });

  it('makes a key left readable by others 0600 again', async () => {
    const dir = tempDir();
    await loadOrCreateCa(dir);
    chmodSync(path.join(dir, 'ca-key.pem'), 0o644);
    await loadOrCreateCa(dir);
    expect(statSync(path.join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
  });
});
