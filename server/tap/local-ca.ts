/**
 * The local CA of `wsplay proxy` (and of the Deploying lesson's TLS): made on first use in a
 * wsplay folder of the user's home (~/.wsplay/ca/, or --ca-dir), its private key readable by
 * the user only (mode 0600), installed nowhere. Only a browser started with
 * `--ignore-certificate-errors-spki-list=<spki>` (wsplay browser) trusts what it signs, so the
 * system's trust store and every other browser are untouched.
 *
 * Keys are made and certificates signed by Node's own crypto (native: a leaf takes about a
 * millisecond); certificates are built with node-forge (a maintained library, no `openssl`
 * command). RSA 2048: forge encodes RSA public keys only, and every TLS client takes it.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, generateKeyPair, randomBytes, sign, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { chmodSync, closeSync, fstatSync, linkSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';

export interface LocalCa {
  /** The folder holding ca.pem and ca-key.pem. */
  dir: string;
  /** Path of the CA certificate (PEM): what another browser would import to trust the proxy. */
  certPath: string;
  certPem: string;
  keyPem: string;
  /** Base64 of the SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  spki: string;
  /**
   * A server certificate for `host` (a DNS name or an IP address) signed by this CA. `cert` is the
   * leaf followed by the CA certificate (the chain a TLS server sends); `key` is the leaf's key.
   * Cached per host (the last MAX_CACHED_HOSTS hosts). Throws CaError for a host that is not a name.
   */
  issue(host: string): { cert: string; key: string };
}

export class CaError extends Error {}

/** Hosts whose certificates are kept; a browser visiting more re-issues the oldest (a few ms each). */
export const MAX_CACHED_HOSTS = 256;
/** Files we read back are small; anything larger is not ours (and is not parsed). */
const MAX_FILE_BYTES = 64 * 1024;
const CERT_FILE = 'ca.pem';
const KEY_FILE = 'ca-key.pem';
const DAY = 24 * 60 * 60 * 1000;

/** ~/.wsplay/ca: the default folder of the local CA. */
export function defaultCaDir(): string {
  return path.join(os.homedir(), '.wsplay', 'ca');
}

/**
 * The CA in `dir` (default ~/.wsplay/ca), made there on first use. A folder holding only one of
 * the two files, or files that do not parse, is an error naming the file and the way out (we
 * never overwrite a key someone may trust).
 */
export async function loadOrCreateCa(dir: string = defaultCaDir()): Promise<LocalCa> {
  const certPath = path.join(dir, CERT_FILE);
  const keyPath = path.join(dir, KEY_FILE);
  let hasCert = exists(certPath);
  const hasKey = exists(keyPath);
  // A key without its certificate for a moment: another wsplay making the CA right now (it
  // writes the key, then the certificate). Only a key this young is worth waiting for.
  if (hasKey && !hasCert && youngerThan(keyPath, 10_000)) hasCert = await appears(certPath, 3000);
  if (hasCert !== hasKey) {
    const [have, missing] = hasCert ? [certPath, keyPath] : [keyPath, certPath];
    throw new CaError(`The local CA in ${dir} is incomplete: ${have} is there but ${missing} is not. Remove ${dir} to make a new CA (browsers started by wsplay trust the new one at once), or restore the missing file.`);
  }
  if (!hasCert) await create(dir, certPath, keyPath);
  else tightenKeyMode(keyPath);
  const certPem = readSmall(certPath);
  const keyPem = readSmall(keyPath);
  return await fromPem(dir, certPath, certPem, keyPem);
}

async function create(dir: string, certPath: string, keyPath: string): Promise<void> {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CaError(`Cannot make the local CA's folder ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): give a folder you can write with --ca-dir DIR.`);
  }
  // Off the event loop: the dashboard (its button) or the proxy keeps serving meanwhile.
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const fkey = forge.pki.privateKeyFromPem(keyPem);
  const pub = forge.pki.setRsaPublicKey(fkey.n, fkey.e);
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY);
  cert.validity.notAfter = new Date(now + 10 * 365 * DAY);
  const name = [
    { name: 'commonName', value: `wsplay local CA (${safeHostname()})` },
    { name: 'organizationName', value: 'wsplay, trusted only by the browser wsplay starts' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(cert, keyPem);
  // Each file written whole under a temporary name first: a crash leaves no half file, and the
  // key is 0600 from its first byte (mode given at creation, before any write). Two wsplays making
  // the CA at once (two terminals, a test run): the key is put in place by link(), which fails when
  // the file exists, so one of them wins, alone writes its certificate, and the other loads the
  // winner's pair; renaming both could have paired one's key with the other's certificate.
  const tmpKey = writeTemp(keyPath, keyPem, 0o600);
  const tmpCert = writeTemp(certPath, forge.pki.certificateToPem(cert), 0o644);
  try {
    let won = true;
    try {
      linkSync(tmpKey, keyPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') won = false;
      else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') renameSync(tmpKey, keyPath); // no hard links here
      else throw new CaError(`Cannot write ${keyPath} (${code ?? String(err)}): give a folder you can write with --ca-dir DIR.`);
    }
    if (won) renameSync(tmpCert, certPath);
    else await appears(certPath, 3000);
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw new CaError(`Cannot write ${certPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}): give a folder you can write with --ca-dir DIR.`);
  } finally {
    for (const tmp of [tmpKey, tmpCert]) {
      try {
        unlinkSync(tmp);
      } catch {
        // renamed into place, or never there
      }
    }
  }
}

function youngerThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Whether `file` exists within `ms` (polled: the writer is another process). */
async function appears(file: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!exists(file)) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

async function fromPem(dir: string, certPath: string, certPem: string, keyPem: string): Promise<LocalCa> {
  let fcert: forge.pki.Certificate;
  try {
    fcert = forge.pki.certificateFromPem(certPem);
  } catch (err) {
    throw new CaError(`${certPath} is not a certificate wsplay can read (${(err as Error).message}). Remove ${dir} to make a new local CA.`);
  }
  try {
    // Parsed to say early that it is not an RSA key (signing itself is Node's).
    forge.pki.privateKeyFromPem(keyPem);
  } catch (err) {
    throw new CaError(`${path.join(dir, KEY_FILE)} is not an RSA private key wsplay can read (${(err as Error).message}). Remove ${dir} to make a new local CA.`);
  }
  const spkiDer = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  const keySpki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  if (!spkiDer.equals(keySpki)) {
    throw new CaError(`The local CA in ${dir} does not match its key (${CERT_FILE} and ${KEY_FILE} are from different CAs). Remove ${dir} to make a new local CA.`);
  }
  const spki = createHash('sha256').update(spkiDer).digest('base64');
  const caNotAfter = new X509Certificate(certPem).validTo;
  const caKey = createPrivateKey(keyPem);
  const authorityKeyId = fcert.generateSubjectKeyIdentifier().getBytes();

  // One key for every leaf, made now off the event loop (a 2048-bit key takes from 0.1 s to a
  // second or more on a loaded machine, which would stall every relayed connection) and kept in
  // memory only; it protects nothing the CA key does not.
  const leafPem = (await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const leafPriv = forge.pki.privateKeyFromPem(leafPem);
  const leafKey = { pem: leafPem, pub: forge.pki.setRsaPublicKey(leafPriv.n, leafPriv.e) };
  const cache = new Map<string, { cert: string; key: string }>();

  return {
    dir,
    certPath,
    certPem,
    keyPem,
    spki,
    issue(host: string) {
      const name = normalizeHost(host);
      const hit = cache.get(name);
      if (hit) {
        // Most recently used last: the oldest is evicted first.
        cache.delete(name);
        cache.set(name, hit);
        return hit;
      }
      const cert = forge.pki.createCertificate();
      cert.publicKey = leafKey.pub;
      cert.serialNumber = serial();
      const now = Date.now();
      cert.validity.notBefore = new Date(now - DAY);
      // 397 days at most (what browsers accept for a server certificate), and never past the CA.
      cert.validity.notAfter = new Date(Math.min(now + 397 * DAY, Date.parse(caNotAfter)));
      // A CN holds 64 characters at most (RFC 5280 ub-common-name); the SAN is what clients check.
      cert.setSubject(name.length <= 64 ? [{ name: 'commonName', value: name }] : [{ name: 'organizationName', value: 'wsplay proxy' }]);
      cert.setIssuer(fcert.subject.attributes);
      const ip = net.isIP(name) !== 0;
      cert.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [ip ? { type: 7, ip: name } : { type: 2, value: name }] },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId },
      ]);
      signWith(cert, caKey);
      const issued = { cert: forge.pki.certificateToPem(cert) + certPem, key: leafKey.pem };
      cache.set(name, issued);
      if (cache.size > MAX_CACHED_HOSTS) cache.delete(cache.keys().next().value!);
      return issued;
    },
  };
}

/**
 * A host as a certificate names it: a DNS name (letters, digits, hyphens, dots; 253 characters at
 * most, labels of 63) or an IP address, lower case. The name comes from a browser's CONNECT line,
 * so anything else is refused rather than written into a certificate.
 */
export function normalizeHost(host: string): string {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (net.isIP(h)) return h;
  if (h.length === 0 || h.length > 253 || !/^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$/.test(h)) {
    throw new CaError(`"${host.slice(0, 80)}" is not a host name or IP address, so no certificate is made for it.`);
  }
  return h.replace(/\.$/, '');
}

/**
 * Sign with SHA-256 and RSA as forge's cert.sign does, but with Node's native crypto: forge's
 * JavaScript RSA took 20 ms per certificate on an idle machine and over 100 ms under load.
 */
function signWith(cert: forge.pki.Certificate, key: string | KeyObject): void {
  const c = cert as forge.pki.Certificate & { siginfo: { algorithmOid: string }; tbsCertificate: forge.asn1.Asn1; signatureOid: string; signature: string };
  c.signatureOid = c.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  // getTBSCertificate is forge's (x509.js), missing from its type definitions.
  c.tbsCertificate = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(c.tbsCertificate).getBytes(), 'binary');
  c.signature = sign('sha256', tbs, key).toString('binary');
}

function serial(): string {
  // 16 random bytes, the top bit cleared so the DER integer is positive (RFC 5280 §4.1.2.2).
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function safeHostname(): string {
  return os.hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'this machine';
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** A key left readable by others (copied around, umask) is made 0600 again. */
function tightenKeyMode(keyPath: string): void {
  if (process.platform === 'win32') return;
  try {
    if ((statSync(keyPath).mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
  } catch {
    // Not ours to change (another user's file): reading it will say what is wrong.
  }
}

function readSmall(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CaError(`Cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): check its owner and mode, or give another folder with --ca-dir DIR.`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) throw new CaError(`${file} is ${size} bytes, too large for a CA file wsplay made (at most ${MAX_FILE_BYTES}). Remove ${path.dirname(file)} to make a new local CA.`);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function writeTemp(file: string, text: string, mode: number): string {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text, { mode, flag: 'wx' });
    return tmp;
  } catch (err) {
    throw new CaError(`Cannot write ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): give a folder you can write with --ca-dir DIR.`);
  }
}
