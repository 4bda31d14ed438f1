import type { TopologyInfo } from '../../../server/app/stream-protocol.ts';
import { detailTab, filters, model, selectedConn, selection, topology, type Conn } from '../state.ts';
import { countsVersion } from '../lib/counts-version.ts';
import { recording } from '../recording.ts';
import { CaptureViewBar } from './CaptureViewBar.tsx';
import { formatBytes } from '../lib/bytes.ts';
import { plural } from '../lib/plural.ts';

function closeText(c: Conn): string {
  if (c.end) {
    if (c.end.code === null) {
      if (isHttp(c) && c.handshake?.outcome === 'plain-http') return 'plain HTTP: never upgraded to WebSocket';
      return c.handshake ? `no WebSocket (${c.handshake.outcome})` : 'no WebSocket';
    }
    return c.end.explanation;
  }
  const last = c.closes[c.closes.length - 1];
  return last ? `closing: ${last.explanation}` : '';
}

/** The address a client connects to: the wiretap's, as the header shows it. */
export function tapUrl(t: TopologyInfo): string {
  const host = t.tap.host === '' || t.tap.host === '0.0.0.0' || t.tap.host === '::' ? 'localhost' : t.tap.host.includes(':') ? `[${t.tap.host}]` : t.tap.host;
  return `ws://${host}:${t.tap.port}`;
}

function Empty() {
  const rec = recording.value;
  if (rec) {
    return (
      <p class="empty">
        {rec.connections === 0
          ? 'This recording holds no connections.'
          : `No connection has opened yet at this point of the recording: move the scrubber on, or press play.`}
      </p>
    );
  }
  const t = topology.value;
  return (
    <p class="empty">
      No connections yet. Connect a client to the wiretap
      {t ? (
        <>
          , for example:
          <code>new WebSocket('{tapUrl(t)}')</code>
        </>
      ) : (
        '.'
      )}
    </p>
  );
}

/** The connection carried HTTP exchanges and was never upgraded (plain HTTP, a refused upgrade). */
function isHttp(c: Conn): boolean {
  return c.httpCount > 0 && c.frames.client + c.frames.server === 0;
}

/** What a plain-HTTP connection carried: how many requests, and the latest. */
function HttpLines({ c }: { c: Conn }) {
  const last = c.exchanges[c.exchanges.length - 1];
  const latest = last ? `${last.request ? `${last.request.method} ${last.request.path}` : '(request not seen)'} → ${last.response ? last.response.status : 'no answer'}` : '';
  return (
    <>
      <div class="conn-line conn-http" title={`${plural(c.httpCount, 'HTTP request')} on this TCP connection (kept alive between requests)`}>
        HTTP · {plural(c.httpCount, 'request')}
      </div>
      {latest && (
        <div class="conn-line muted" title={`Latest: ${latest}`}>
          latest {latest}
        </div>
      )}
    </>
  );
}

/** One direction's frames and messages. */
function DirLine({ c, dir }: { c: Conn; dir: 'client' | 'server' }) {
  const arrow = dir === 'client' ? '↑' : '↓';
  const way = dir === 'client' ? 'client → server' : 'server → client';
  return (
    <div class="conn-line" title={`${way}: ${plural(c.frames[dir], 'frame')}, ${plural(c.messages[dir], 'message')}`}>
      {arrow} {plural(c.frames[dir], 'frame')} · {plural(c.messages[dir], 'msg')}
    </div>
  );
}

/**
 * Bytes, with what they count said each time: the frames' (headers and payloads) from the first
 * frame to the end, and once TCP is gone its total with the HTTP handshake, on a line of its own.
 */
function ByteLines({ c }: { c: Conn }) {
  const http = isHttp(c);
  return (
    <>
      {!http && (
        <div
          class="conn-line"
          title={`Frame headers and payloads: ${formatBytes(c.bytes.client)} client → server, ${formatBytes(c.bytes.server)} server → client (the HTTP handshake is not counted)`}
        >
          in frames ↑ {formatBytes(c.bytes.client)} ↓ {formatBytes(c.bytes.server)}
        </div>
      )}
      {c.end && (
        <div
          class="conn-line conn-tcp muted"
          title={`Every byte of the TCP connection, HTTP included: ${formatBytes(c.end.bytes.client)} client → server, ${formatBytes(c.end.bytes.server)} server → client`}
        >
          {http ? 'TCP' : 'TCP incl. handshake'}{' '}
          <span class="conn-nums">
            ↑ {formatBytes(c.end.bytes.client)} ↓ {formatBytes(c.end.bytes.server)}
          </span>
        </div>
      )}
    </>
  );
}

export function Connections() {
  // Its counts draw four times a second under a stream, not with every draw of the views.
  countsVersion.value;
  const conns = [...model.conns.values()].reverse();
  const current = selectedConn.value;
  const select = (c: Conn) => {
    selectedConn.value = c.id;
    filters.value = { ...filters.value, conn: c.id };
    selection.value = { kind: 'handshake', conn: c.id };
    detailTab.value = 'handshake';
  };
  return (
    <section class="panel conns" aria-label="Connections">
      <h2>
        Connections <span class="muted">{conns.length}</span>
        {filters.value.conn !== null && (
          <button class="link" onClick={() => (filters.value = { ...filters.value, conn: null })}>
            show all
          </button>
        )}
      </h2>
      <CaptureViewBar />
      {conns.length === 0 && <Empty />}
      <ul role="listbox" aria-label="Connections">
        {conns.map((c) => (
          <li
            role="option"
            aria-selected={current === c.id}
            class={current === c.id ? 'conn selected' : 'conn'}
            tabIndex={0}
            onClick={() => select(c)}
            onKeyDown={(e) => e.key === 'Enter' && select(c)}
            data-conn={c.id}
          >
            <div class="conn-head">
              <span class="swatch" style={{ background: c.color }} />
              <b>#{c.id}</b>
              <span class={`state ${c.status}`}>{c.status}</span>
              {c.violations > 0 && <span class="badge violation" title="Rules of RFC 6455 broken on this connection">{c.violations} ✗</span>}
              {c.appViolations > 0 && (
                <span class="badge violation" title="Rules of the application protocol broken on this connection, or a client and server that speak different protocols (see its Handshake tab)">
                  {c.appViolations} ✗
                </span>
              )}
            </div>
            <div class="conn-line muted">
              {c.client}
              {/* "→ a" in the 180 px column under 1280 px: the word "process" is then for screen readers only. */}
              {c.instance && (
                <span class="instance" title={`Handed by the wiretap to server.js process ${c.instance}`}>
                  {' '}
                  → <span class="instance-word">process </span>
                  {c.instance}
                </span>
              )}
            </div>
            {/* Through the proxy each connection has its own server: the host the browser asked for. */}
            {topology.value?.proxy && (
              <div class="conn-line conn-target" title={`The server this connection goes to: ${c.target}, as the browser asked the proxy`}>
                → {c.target}
              </div>
            )}
            {isHttp(c) ? (
              <HttpLines c={c} />
            ) : (
              <>
                <DirLine c={c} dir="client" />
                <DirLine c={c} dir="server" />
              </>
            )}
            <ByteLines c={c} />
            {closeText(c) && (
              <div class="conn-line close-code" title={closeText(c)}>
                {closeText(c)}
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
