import { detailTab, filters, model, selectedConn, selection, version, type Conn } from '../state.ts';
import { formatBytes } from '../lib/bytes.ts';

function closeText(c: Conn): string {
  if (c.end) {
    if (c.end.code === null) return c.handshake ? `no WebSocket (${c.handshake.outcome})` : 'no WebSocket';
    return c.end.explanation;
  }
  const last = c.closes[c.closes.length - 1];
  return last ? `closing: ${last.explanation}` : '';
}

export function Connections() {
  version.value;
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
      {conns.length === 0 && (
        <p class="empty">
          No connections yet. Connect a client to the wiretap, for example the course's
          <code>new WebSocket('ws://localhost:9900')</code>.
        </p>
      )}
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
            </div>
            <div class="conn-line muted">{c.client}</div>
            <div class="conn-line">
              ↑ {c.frames.client} frames · {c.messages.client} msgs · {formatBytes(c.bytes.client)}
            </div>
            <div class="conn-line">
              ↓ {c.frames.server} frames · {c.messages.server} msgs · {formatBytes(c.bytes.server)}
            </div>
            {closeText(c) && <div class="conn-line close-code">{closeText(c)}</div>}
          </li>
        ))}
      </ul>
    </section>
  );
}
