/** A wiretap target as given on the command line: `ws://HOST:PORT`, `wss://HOST[:PORT][/PATH]`, `HOST:PORT` or `PORT`. */
export interface Target {
  host: string;
  port: number;
  /** wss://: the wiretap speaks TLS to the target (server/tap/upstream.ts). */
  tls?: boolean;
  /** wss:// with a path: a client's request for "/" goes there. */
  path?: string;
}

export class TargetError extends Error {}

const EXAMPLE = 'give the server\'s address as ws://HOST:PORT, e.g. --target ws://127.0.0.1:8080';

export function parseTarget(input: string): Target {
  const s = input.trim();
  if (/^\d+$/.test(s)) return { host: '127.0.0.1', port: checkPort(Number(s), input) };
  // new URL() refuses a port above 65535 as "Invalid URL": say which part is wrong.
  const bigPort = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\[[^\]]*\]|[^/:[\]]*):(\d+)(?:\/.*)?$/i.exec(s);
  if (bigPort && Number(bigPort[1]) > 65535) {
    throw new TargetError(`--target "${input}" has port ${bigPort[1]}, out of range: a port is 1-65535, e.g. --target ws://127.0.0.1:8080`);
  }
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `ws://${s}`);
  } catch {
    throw new TargetError(`--target "${input}" is not an address: ${EXAMPLE}`);
  }
  if (url.protocol === 'wss:' || url.protocol === 'https:') {
    if (!url.hostname) throw new TargetError(`--target "${input}" has no host: ${EXAMPLE}`);
    const tlsPort = url.port === '' ? 443 : Number(url.port);
    const path = url.pathname !== '/' || url.search ? `${url.pathname}${url.search}` : undefined;
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: checkPort(tlsPort, input), tls: true, ...(path ? { path } : {}) };
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'http:') {
    throw new TargetError(`--target "${input}" has scheme ${url.protocol.slice(0, -1)}: ${EXAMPLE}`);
  }
  if (!url.hostname) throw new TargetError(`--target "${input}" has no host: ${EXAMPLE}`);
  const port = url.port === '' ? 80 : Number(url.port);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: checkPort(port, input) };
}

function checkPort(port: number, input: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TargetError(`--target "${input}" has no valid port (1-65535): ${EXAMPLE}`);
  }
  return port;
}

/** Parse a --port value: 0-65535 (0 picks a free port). */
export function parsePort(value: string | undefined, fallback: number, flag = '--port'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new TargetError(`${flag} "${value}" is not a port number (0-65535).`);
  return n;
}
