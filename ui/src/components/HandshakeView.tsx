import { useEffect, useState } from 'preact/hooks';
import type { ExtensionOffer, HandshakeEvent, HeaderPair, HttpRequestHead, PerMessageDeflateParams, TlsSession } from '../../../server/capture/events.ts';
import { base64ToBytes, bytesToBase64, toHex } from '../lib/bytes.ts';
import { selection, version, type Conn, type HttpExchange } from '../state.ts';
import '../detail.css';
import { ConnAppViolations, ExchangePackets } from './AppLayers.tsx';

/** RFC 6455 §1.3: the server appends this to the client's key before hashing. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

type Side = 'request' | 'response';

/** One line per WebSocket header, as a learner needs it, by side (lower-case names). */
const HEADER_NOTES: Record<string, Partial<Record<Side, string | ((value: string) => string)>>> = {
  host: {
    request: 'Which host and port the client asked for; HTTP/1.1 requires it, and careful servers check it (DNS rebinding).',
  },
  upgrade: {
    request: 'Asks the server to switch this TCP connection from HTTP to the WebSocket protocol.',
    response: 'The server confirms the switch: after this response the bytes are WebSocket frames.',
  },
  connection: {
    request: (v) =>
      hasUpgradeToken(v)
        ? '"Upgrade" marks the Upgrade header as meant for this hop; required with it (§4.1).'
        : 'No "Upgrade" token: the client does not ask to switch protocols, so this is ordinary HTTP.',
    response: (v) =>
      hasUpgradeToken(v)
        ? '"Upgrade": the connection stays open and changes protocol (§4.2.2).'
        : `"${v}": ordinary HTTP; the connection does not switch to WebSocket.`,
  },
  'sec-websocket-key': {
    request: '16 random bytes in base64, fresh for each connection; the server hashes it into Sec-WebSocket-Accept.',
  },
  'sec-websocket-version': {
    request: 'The protocol version the client speaks: 13 is RFC 6455, the only one in use.',
    response: 'The versions the server speaks, sent when it rejects the client’s version.',
  },
  'sec-websocket-extensions': {
    request: 'Extensions the client offers, with parameters, in order of preference.',
    response: 'The extensions the server accepted: only these may be used on this connection.',
  },
  'sec-websocket-protocol': {
    request: 'Application subprotocols the client offers (e.g. chat, graphql-ws), in order of preference.',
    response: 'The one subprotocol the server picked from the client’s list.',
  },
  'sec-websocket-accept': {
    response: 'base64(SHA-1(key + GUID)): proof that the server read this very handshake (worked out below).',
  },
  origin: {
    request: 'The page that opened the socket (browsers send it); servers check it to refuse other sites’ pages.',
  },
};

const isWsHeader = (name: string) => name.toLowerCase() in HEADER_NOTES;

function hasUpgradeToken(value: string): boolean {
  return value.split(',').some((t) => t.trim().toLowerCase() === 'upgrade');
}

function noteFor(name: string, value: string, side: Side): string | null {
  const note = HEADER_NOTES[name.toLowerCase()]?.[side];
  if (note === undefined) return null;
  return typeof note === 'function' ? note(value) : note;
}

/** SHA-1 of a string, in the browser (WebCrypto is async, hence a hook). */
function useSha1(input: string | null): { digest: Uint8Array | null; error: string | null } {
  const [state, setState] = useState<{ input: string | null; digest: Uint8Array | null; error: string | null }>({
    input: null,
    digest: null,
    error: null,
  });
  useEffect(() => {
    if (input === null) return;
    let live = true;
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) {
      // crypto.subtle exists only in secure contexts (https, localhost, 127.0.0.1).
      setState({ input, digest: null, error: 'this page is not a secure context, so the browser offers no SHA-1' });
      return;
    }
    subtle.digest('SHA-1', new TextEncoder().encode(input)).then(
      (buf) => live && setState({ input, digest: new Uint8Array(buf), error: null }),
      (err: unknown) => live && setState({ input, digest: null, error: String(err) }),
    );
    return () => {
      live = false;
    };
  }, [input]);
  return state.input === input ? state : { digest: null, error: null };
}

/** Marks a line the wiretap changed on its way to a wss:// server. */
const Rewritten = () => <span class="rewrite-mark"> ← rewritten by the wiretap</span>;

function HttpBlock({
  side,
  first,
  headers,
  body,
  label,
  rewritten,
  forwarded,
}: {
  side: Side;
  first: string;
  headers: HeaderPair[];
  body?: string;
  label: string;
  /** Lines the wiretap rewrote: -1 the request line, else header indices. */
  rewritten?: Set<number>;
  forwarded?: boolean;
}) {
  return (
    <pre class={`http-block ${side}${forwarded ? ' forwarded' : ''}`} aria-label={label}>
      <span class={rewritten?.has(-1) ? 'http-first rewritten' : 'http-first'}>{first}</span>
      {rewritten?.has(-1) && <Rewritten />}
      {'\n'}
      {headers.map(([name, value], i) => (
        <>
          <span class={rewritten?.has(i) ? 'h-line rewritten' : 'h-line'}>
            <span class={isWsHeader(name) ? 'h-name ws' : 'h-name'}>{name}</span>: <span class="h-val">{value}</span>
          </span>
          {rewritten?.has(i) && <Rewritten />}
          {'\n'}
        </>
      ))}
      {body !== undefined && body !== '' && (
        <>
          {'\n'}
          <span class="http-body">{body}</span>
        </>
      )}
    </pre>
  );
}

/** The forwarded head's lines that differ from the client's: a changed request line, and headers the client did not send as they are. */
function rewrittenLines(sent: HttpRequestHead, forwarded: HttpRequestHead): Set<number> {
  const out = new Set<number>();
  if (`${sent.method} ${sent.path} ${sent.version}` !== `${forwarded.method} ${forwarded.path} ${forwarded.version}`) out.add(-1);
  const asSent = new Set(sent.headers.map(([n, v]) => `${n.toLowerCase()}\n${v}`));
  forwarded.headers.forEach(([n, v], i) => {
    if (!asSent.has(`${n.toLowerCase()}\n${v}`)) out.add(i);
  });
  return out;
}

/** Text of a field from a recording, which may hold anything: only strings are shown. */
const shown = (v: unknown): string => (typeof v === 'string' && v !== '' ? v : '—');

/** The wiretap's TLS session with a wss:// server: what protects the bytes between it and the server. */
function TlsDetails({ tls }: { tls: TlsSession }) {
  const verdict = tls.verified ? 'verified' : tls.insecure ? 'NOT verified (--insecure)' : 'NOT verified';
  return (
    <div class={`tls-session${tls.verified ? '' : ' unverified'}`} role="group" aria-label="TLS session with the server">
      <dl>
        <div>
          <dt>Protocol</dt>
          <dd>
            {shown(tls.version)}, {shown(tls.cipher)}
            {typeof tls.alpn === 'string' && <span class="muted">, ALPN {tls.alpn}</span>}
          </dd>
        </div>
        <div>
          <dt>Certificate</dt>
          <dd>
            <code>{shown(tls.subject)}</code>
            {typeof tls.subjectAltName === 'string' && <span class="muted"> ({tls.subjectAltName})</span>}
          </dd>
        </div>
        <div>
          <dt>Issued by</dt>
          <dd>
            <code>{shown(tls.issuer)}</code>
          </dd>
        </div>
        <div>
          <dt>Valid</dt>
          <dd>
            {shown(tls.validFrom)} to {shown(tls.validTo)}
          </dd>
        </div>
        <div>
          <dt>Checked</dt>
          <dd class={tls.verified ? 'tls-ok' : 'tls-bad'}>
            {verdict}
            {tls.verified && typeof tls.servername === 'string' && <span class="muted"> for {tls.servername}, against this machine's CAs and --ca</span>}
            {!tls.verified && typeof tls.problem === 'string' && <span>: {tls.problem}</span>}
          </dd>
        </div>
      </dl>
      {tls.intercepted && typeof tls.intercepted === 'object' ? (
        <p class="muted small">
          The browser's TLS ({shown(tls.intercepted.version)}, {shown(tls.intercepted.cipher)}) ended at wsplay's proxy, with a certificate for {shown(tls.servername)} from
          the local CA that only the intercepted browser trusts; the proxy spoke the TLS above to the server. Frames pass byte for byte.
        </p>
      ) : (
        <p class="muted small">
          The client spoke plain ws:// to the wiretap; only the wiretap ↔ server leg is encrypted. Frames pass byte for byte.
        </p>
      )}
    </div>
  );
}

function HeaderNotes({ side, headers }: { side: Side; headers: HeaderPair[] }) {
  const rows = headers.flatMap(([name, value]) => {
    const note = noteFor(name, value, side);
    return note === null ? [] : [{ name, value, note }];
  });
  if (rows.length === 0) return null;
  return (
    <dl class="header-notes" aria-label={side === 'request' ? 'What the request headers mean' : 'What the response headers mean'}>
      {rows.map(({ name, value, note }) => (
        <div class="note-row">
          <dt>
            <code>{name}</code>
            {value.length <= 28 && <code class="muted"> {value}</code>}
          </dt>
          <dd>{note}</dd>
        </div>
      ))}
    </dl>
  );
}

function AcceptSteps({ h }: { h: HandshakeEvent }) {
  const key = h.key?.trim() ?? null;
  const { digest, error } = useSha1(key === null ? null : key + GUID);
  if (key === null) {
    return (
      <p class="muted">
        The client sent no <code>Sec-WebSocket-Key</code>, so there is no Sec-WebSocket-Accept to compute.
      </p>
    );
  }
  // Without WebCrypto, the server side's result still gives the digest: it is base64 of it.
  const shownDigest = digest ?? (error && h.expectedAccept ? base64ToBytes(h.expectedAccept) : null);
  const computed = digest ? bytesToBase64(digest) : h.expectedAccept;
  let keyBytes = -1;
  try {
    keyBytes = base64ToBytes(key).length;
  } catch {
    // not base64: said below
  }
  const accept = h.accept?.trim() ?? null;
  const matches = accept !== null && computed !== null && accept === computed;
  return (
    <ol class="accept-steps">
      <li>
        <div>
          Take the client’s <code>Sec-WebSocket-Key</code> as sent, a string (it is not decoded):
        </div>
        <code class="wrap">{key}</code>
        <div class="muted small">
          {keyBytes === 16 ? 'It is base64 of 16 random bytes, as §4.1 requires.' : 'It is not base64 of 16 bytes, as §4.1 requires.'}
        </div>
      </li>
      <li>
        <div>Append the GUID of RFC 6455 §1.3:</div>
        <code class="wrap">
          <span class="k-part">{key}</span>
          <span class="guid-part">{GUID}</span>
        </code>
      </li>
      <li>
        <div>SHA-1 of those {key.length + GUID.length} ASCII bytes{digest ? ', computed here in your browser' : ''}, 20 bytes:</div>
        {shownDigest ? (
          <code class="wrap digest">{toHex(shownDigest)}</code>
        ) : (
          <code class="muted">{error ?? 'computing…'}</code>
        )}
        {error && shownDigest && <div class="muted small">({error}; these are the bytes the wiretap computed.)</div>}
      </li>
      <li>
        <div>Encode the 20 bytes in base64:</div>
        <code class="wrap">{computed ?? '…'}</code>
      </li>
      <li>
        <div>
          Compare with the <code>Sec-WebSocket-Accept</code> the server sent:
        </div>
        {accept === null ? (
          <div class="verdict bad">
            <span class="mark" role="img" aria-label="Accept missing">
              ✗
            </span>{' '}
            missing: {h.response ? `the ${h.response.status} response has no Sec-WebSocket-Accept.` : 'no response was seen.'}
          </div>
        ) : (
          <>
            <code class="wrap">{accept}</code>
            {matches ? (
              <div class="verdict good">
                <span class="mark" role="img" aria-label="Accept matches">
                  ✓
                </span>{' '}
                matches: the server read this handshake and speaks WebSocket.
              </div>
            ) : (
              <div class="verdict bad">
                <span class="mark" role="img" aria-label="Accept mismatch">
                  ✗
                </span>{' '}
                does not match: a browser would fail the connection (§4.1, step 4 of the client’s checks).
              </div>
            )}
          </>
        )}
      </li>
    </ol>
  );
}

const formatParam = ([name, value]: [string, string | true]) => (value === true ? name : `${name}=${value}`);
const formatExtension = (e: ExtensionOffer) => [e.name, ...e.params.map(formatParam)].join('; ');

/** What one permessage-deflate parameter means (RFC 7692 §7.1). */
function paramMeaning(name: string, value: string | true, offer: boolean): string {
  const who = name.startsWith('server') ? 'the server' : 'the client';
  switch (name.toLowerCase()) {
    case 'server_no_context_takeover':
    case 'client_no_context_takeover':
      return `${who} starts every message with an empty window: messages are compressed independently (less memory, weaker compression).`;
    case 'server_max_window_bits':
    case 'client_max_window_bits':
      if (value === true) return `${who} can limit its LZ77 window; the server may pick a size in its answer.`;
      return `${who} compresses with a window of 2^${value} = ${windowSize(Number(value))}${offer ? ' at most' : ''}.`;
    default:
      return 'not a permessage-deflate parameter.';
  }
}

function windowSize(bits: number): string {
  const bytes = 2 ** bits;
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function DeflateTable({ d }: { d: PerMessageDeflateParams }) {
  const row = (label: string, noTakeover: boolean, bits: number) => (
    <tr>
      <th scope="row">{label}</th>
      <td>
        {noTakeover ? (
          <>
            <b>off</b>: each message is compressed on its own
          </>
        ) : (
          <>
            <b>on</b>: the window carries over, so a message may refer back to earlier ones
          </>
        )}
      </td>
      <td>
        2<sup>{bits}</sup> = {windowSize(bits)}
      </td>
    </tr>
  );
  return (
    <table class="deflate-table">
      <thead>
        <tr>
          <th scope="col">Direction</th>
          <th scope="col">Context takeover</th>
          <th scope="col">LZ77 window</th>
        </tr>
      </thead>
      <tbody>
        {row('client → server', d.clientNoContextTakeover, d.clientMaxWindowBits)}
        {row('server → client', d.serverNoContextTakeover, d.serverMaxWindowBits)}
      </tbody>
    </table>
  );
}

function Extensions({ h }: { h: HandshakeEvent }) {
  if (h.offeredExtensions.length === 0 && h.extensions.length === 0) {
    return <p class="muted">No extensions: the client offered none, so every frame carries its payload as is.</p>;
  }
  return (
    <>
      <p>
        Offered by the client:{' '}
        {h.offeredExtensions.length === 0 ? <span class="muted">none</span> : h.offeredExtensions.map((e) => <code class="chip">{formatExtension(e)}</code>)}
      </p>
      <p>
        Accepted by the server:{' '}
        {h.extensions.length === 0 ? (
          <span class="muted">none{h.outcome === 'upgraded' ? ': frames are sent uncompressed' : ''}</span>
        ) : (
          h.extensions.map((e) => <code class="chip">{formatExtension(e)}</code>)
        )}
      </p>
      {h.extensions.map((e) =>
        e.name.toLowerCase() === 'permessage-deflate' ? (
          <div class="ext">
            <p>
              <b>permessage-deflate</b> (RFC 7692): each message is compressed with DEFLATE and sent with RSV1=1 on its first
              frame; the receiver inflates it.
            </p>
            {e.params.length > 0 && (
              <ul class="params">
                {e.params.map((p) => (
                  <li>
                    <code>{formatParam(p)}</code>: {paramMeaning(p[0], p[1], false)}
                  </li>
                ))}
              </ul>
            )}
            {h.deflate && <DeflateTable d={h.deflate} />}
          </div>
        ) : (
          <p class="ext">
            <b>{e.name}</b>: wsplay does not know this extension; frames that use it are shown as they are on the wire.
          </p>
        ),
      )}
    </>
  );
}

function Subprotocol({ h }: { h: HandshakeEvent }) {
  if (h.offeredSubprotocols.length === 0 && h.subprotocol === null) {
    return <p class="muted">None: the client offered no subprotocol, so the application decides what messages mean.</p>;
  }
  return (
    <p>
      Offered: {h.offeredSubprotocols.length === 0 ? <span class="muted">none</span> : h.offeredSubprotocols.map((p) => <code class="chip">{p}</code>)}
      <br />
      Picked by the server:{' '}
      {h.subprotocol !== null ? (
        <code class="chip">{h.subprotocol}</code>
      ) : (
        <span class="muted">none (a browser then reports an empty protocol; the client may close if it needs one)</span>
      )}
    </p>
  );
}

/** Why a status refuses an upgrade, in the words a learner needs. */
function refusalMeaning(status: number, h: HandshakeEvent): string {
  if (status === 400) {
    return 'The server rejected the upgrade request itself. Usually a missing or malformed Sec-WebSocket-Key, a Sec-WebSocket-Version other than 13, or a missing Connection: Upgrade; the problems and the server’s own words below say which.';
  }
  if (status === 401) return 'The server wants credentials (a cookie, a token, an Authorization header) before it upgrades.';
  if (status === 403) {
    return `The server understood the request and refused this client, most often because of its Origin${
      h.request?.headers.some(([n]) => n.toLowerCase() === 'origin') ? '' : ' (this request sent none)'
    } or an authentication check (ws's verifyClient, a proxy's rules).`;
  }
  if (status === 404) return 'Nothing accepts WebSocket upgrades on this path.';
  if (status === 426) return 'The server does not speak the version the client asked for; its Sec-WebSocket-Version lists the ones it does.';
  if (status >= 500) return 'The server failed while handling the upgrade (a crash or an error in its code).';
  if (status >= 300 && status < 400) return 'A redirect: WebSocket clients do not follow redirects, so the connection fails.';
  return 'The server answered with ordinary HTTP instead of 101 Switching Protocols: it does not handle WebSocket upgrades here.';
}

/** What the server said in the body of a refusal, often the most precise reason there is. */
function Body({ res }: { res: HandshakeEvent['response'] }) {
  if (!res?.body) return null;
  return (
    <p>
      The server’s body says: <q class="payload-text">{res.body.trim()}</q>
    </p>
  );
}

function Failure({ h, conn }: { h: HandshakeEvent; conn: Conn }) {
  const res = h.response;
  const ended = conn.end ? ` The connection was ended by the ${conn.end.by}${conn.end.error ? ` (${conn.end.error})` : ''}.` : '';
  switch (h.outcome) {
    case 'upgraded':
      return null;
    case 'plain-http':
      if (res && res.status < 400) {
        // Plain HTTP answered normally (a page, a fetch, a polling client): not a failure.
        return (
          <div class="note plain-note" role="note">
            <h4>Plain HTTP: this connection was never upgraded to WebSocket</h4>
            <p>
              The request{h.request ? ` (${h.request.method} ${h.request.path})` : ''} has no <code>Upgrade: websocket</code> header: it is
              ordinary HTTP, such as a <code>fetch()</code>, a page load or a polling client, and the server answered it with{' '}
              <b>
                {res.status} {res.reason}
              </b>
              . Each request is a full round trip with its own headers; with keep-alive, several share one TCP connection.
            </p>
          </div>
        );
      }
      if (res && res.status !== 426) {
        return (
          <div class="failure" role="note">
            <h4>
              The HTTP request failed: {res.status} {res.reason}
            </h4>
            <p>
              The request{h.request ? ` (${h.request.method} ${h.request.path})` : ''} is ordinary HTTP (no <code>Upgrade: websocket</code>{' '}
              header), and the server answered with an error status.
            </p>
            <Body res={res} />
          </div>
        );
      }
      return (
        <div class="failure" role="note">
          <h4>A plain HTTP request reached a WebSocket-only server</h4>
          <p>
            The request{h.request ? ` (${h.request.method} ${h.request.path})` : ''} has no <code>Upgrade: websocket</code> header, so it is
            ordinary HTTP: a browser tab opened at <code>http://…</code>, curl, or a health check.
          </p>
          {res?.status === 426 && (
            <p>
              The server answered <b>426 Upgrade Required</b>: on this address it only speaks WebSocket. Connect with a WebSocket client
              instead, e.g. <code>new WebSocket('ws://…')</code>.
            </p>
          )}
          {!res && <p>The server did not answer.{ended}</p>}
          <Body res={res} />
        </div>
      );
    case 'refused':
      return (
        <div class="failure" role="note">
          <h4>
            The server refused the upgrade{res ? `: ${res.status} ${res.reason}` : ''}
          </h4>
          {res && <p>{refusalMeaning(res.status, h)}</p>}
          <Body res={res} />
        </div>
      );
    case 'incomplete':
      return (
        <div class="failure" role="note">
          <h4>The handshake did not finish</h4>
          <p>
            {h.request === null
              ? 'The connection ended before a complete HTTP request arrived: the client closed early or sent only part of a head.'
              : 'The request arrived, but the connection ended before the server answered: the server may have crashed, hung, or been unreachable.'}
            {ended}
          </p>
        </div>
      );
    case 'not-http':
      return (
        <div class="failure" role="note">
          <h4>Not HTTP: the client’s first bytes are not a request line</h4>
          <p>
            There is no handshake to show. Common causes: a <code>wss://</code> (TLS) client connecting to a plain <code>ws://</code> port
            (its bytes start with a TLS ClientHello), or a raw TCP client. The wiretap still relays the bytes.{ended}
          </p>
        </div>
      );
  }
}

const OUTCOME_LABEL: Record<HandshakeEvent['outcome'], string> = {
  upgraded: 'upgraded',
  refused: 'refused',
  'plain-http': 'plain HTTP',
  incomplete: 'incomplete',
  'not-http': 'not HTTP',
};

/** Step through a kept-alive connection's HTTP exchanges: which one is shown, and the way to the others. */
function ExchangeStepper({ conn, shown }: { conn: Conn; shown: HttpExchange }) {
  const list = conn.exchanges;
  const at = list.indexOf(shown);
  const number = shown.exchange ?? at + 1;
  const go = (e: HttpExchange | undefined) => {
    if (e) selection.value = { kind: 'handshake', conn: conn.id, exchange: e };
  };
  const latest = list[list.length - 1];
  return (
    <div class="exchange-stepper" role="group" aria-label="HTTP exchanges">
      <button class="step" aria-label="Previous request" disabled={at <= 0} onClick={() => go(list[at - 1])}>
        ‹
      </button>
      <span class="exchange-pos">
        Request {number.toLocaleString('en-US')} of {conn.httpCount.toLocaleString('en-US')}
      </span>
      <button class="step" aria-label="Next request" disabled={at < 0 || at >= list.length - 1} onClick={() => go(list[at + 1])}>
        ›
      </button>
      <button class="link" disabled={shown === latest} onClick={() => go(latest)}>
        latest
      </button>
      {conn.httpCount > list.length && (
        <span class="muted small">
          {' '}
          ({(conn.httpCount - list.length).toLocaleString('en-US')} earlier or later not kept)
        </span>
      )}
    </div>
  );
}

export function HandshakeView({ conn }: { conn: Conn | null }) {
  version.value;
  if (!conn) return <p class="hint">Select a connection to see its opening handshake.</p>;
  const sel = selection.value;
  const picked = sel?.kind === 'handshake' && sel.conn === conn.id && sel.exchange && conn.exchanges.includes(sel.exchange) ? sel.exchange : null;
  const h = picked ?? conn.handshake;
  if (!h) {
    return (
      <p class="hint">
        Connection #{conn.id} from {conn.client}: waiting for the HTTP upgrade request and its response.
      </p>
    );
  }
  const req = h.request;
  const res = h.response;
  // wss:// targets: the head as forwarded, and the TLS session (recordings may hold anything).
  const fwd = h.forwardedRequest && Array.isArray(h.forwardedRequest.headers) ? h.forwardedRequest : null;
  const tls = h.tls && typeof h.tls === 'object' ? h.tls : null;
  const latency = req && res ? res.t - req.t : null;
  const neutral = h.outcome === 'plain-http' && res !== null && res.status < 400;
  /** 101 with a Sec-WebSocket-Accept that does not match the key: switched for the server, refused by the client. */
  const acceptWrong = res !== null && res.status === 101 && !h.acceptValid;
  const shownExchange = conn.exchanges.includes(h as HttpExchange) ? (h as HttpExchange) : null;
  return (
    <div class="handshake-view">
      {shownExchange && conn.httpCount > 1 && <ExchangeStepper conn={conn} shown={shownExchange} />}
      <p class="summary">
        {acceptWrong ? (
          // The server switched protocols, but a browser checks the Accept and refuses: for the client the upgrade failed (1006).
          <span class="outcome refused accept-wrong" title="The server sent 101 Switching Protocols, but its Sec-WebSocket-Accept does not match the key: the browser fails the connection (close code 1006) and the page never sees it open.">
            upgrade failed
          </span>
        ) : (
          <span class={`outcome ${h.outcome}${neutral ? ' neutral' : ''}`}>{OUTCOME_LABEL[h.outcome]}</span>
        )}
        {res ? (
          <b>
            {res.status} {res.reason}
          </b>
        ) : (
          <b>no response</b>
        )}
        {acceptWrong && <span class="accept-verdict">but Accept wrong: the browser refuses (1006)</span>}
        {latency !== null && <span class="muted">answered in {latency.toFixed(1)} ms</span>}
      </p>
      <p class="muted small">
        Connection #{conn.id} from <code>{conn.client}</code> to <code>{conn.target}</code>
        {req && (
          <>
            , path <code>{req.path}</code>
          </>
        )}
      </p>

      <Failure h={h} conn={conn} />
      <ConnAppViolations conn={conn.id} />
      {h.app && <ExchangePackets app={h.app} method={h.request?.method} />}

      {tls && (
        <>
          <h3>TLS to the server</h3>
          <TlsDetails tls={tls} />
        </>
      )}

      {h.problems.length > 0 && (
        <div class="problems" role="note" aria-label="Problems">
          <h4>Problems</h4>
          <ul>
            {h.problems.map((p) => (
              <li>{p}</li>
            ))}
          </ul>
        </div>
      )}

      {(req || res) && <h3>Request (client → server)</h3>}
      {!req && !res ? null : req ? (
        <>
          {fwd && <h4 class="head-caption">As the client sent it to the wiretap</h4>}
          <HttpBlock
            side="request"
            label={fwd ? 'HTTP request as the client sent it' : 'HTTP request as sent'}
            first={`${req.method} ${req.path} ${req.version}`}
            headers={req.headers}
          />
          {fwd && (
            <>
              <h4 class="head-caption">As the wiretap forwarded it to the server over TLS</h4>
              <HttpBlock
                side="request"
                forwarded
                label="HTTP request as the wiretap forwarded it"
                first={`${fwd.method} ${fwd.path} ${fwd.version}`}
                headers={fwd.headers}
                rewritten={rewrittenLines(req, fwd)}
              />
              <p class="muted small">
                A server behind a TLS proxy picks the site by <code>Host</code> and may check <code>Origin</code>, so the wiretap names the server,
                not itself; every other byte, and every frame, passes as sent.
              </p>
            </>
          )}
          <p class="muted small">Headers as sent, in order and case; each line ends with CRLF and a blank line ends the head.</p>
          <HeaderNotes side="request" headers={req.headers} />
        </>
      ) : (
        <p class="muted">No complete request was seen.</p>
      )}

      {(req || res) && <h3>Response (server → client)</h3>}
      {!req && !res ? null : res ? (
        <>
          <HttpBlock side="response" label="HTTP response as sent" first={`${res.version} ${res.status} ${res.reason}`} headers={res.headers} body={res.body} />
          <HeaderNotes side="response" headers={res.headers} />
        </>
      ) : (
        <p class="muted">No response was seen.</p>
      )}

      {h.outcome === 'upgraded' && (
        <>
          <h3>
            How <code>Sec-WebSocket-Accept</code> is computed
          </h3>
          <AcceptSteps h={h} />
          <p class="muted small">
            The Accept shows the server understood a WebSocket handshake (not a cache or a plain HTTP server replaying a response). It is
            not encryption or authentication: anyone can compute it.
          </p>
        </>
      )}

      {(h.outcome === 'upgraded' || h.offeredExtensions.length > 0) && (
        <>
          <h3>Extensions</h3>
          <Extensions h={h} />
          <h3>Subprotocol</h3>
          <Subprotocol h={h} />
        </>
      )}
    </div>
  );
}
