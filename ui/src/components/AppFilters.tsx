/**
 * The Timeline's filters by application layer (protocol, event name / method / topic / command,
 * id), and what a row carries at that layer. Offered once a decoded message is in view (or a
 * filter is set), so a plain WebSocket session keeps its one-row toolbar.
 */
import type { AppInfo, AppViolationEvent, FrameEvent, MessageEvent } from '../../../server/capture/events.ts';
import { appFilterActive, NO_APP_FILTER, protocolLabel, type AppFilter } from '../lib/app-layer.ts';
import { appMessageKey, filters, frameKey, model, version, type MessageRow } from '../state.ts';
import '../app-layers.css';

/** A data message's application layer, in Messages mode. */
export function messageApp(m: MessageRow): AppInfo | undefined {
  return m.type === 'message' ? m.app : undefined;
}

/** The message (with an application layer) that a frame belongs to, when the page holds it. */
export function frameMessage(f: FrameEvent): MessageEvent | undefined {
  return (f.opcode & 8) === 0 ? model.appByFrame.get(frameKey(f.conn, f.dir, f.seq)) : undefined;
}

/** The application-protocol rules a message broke (`appViolation` events that point at it). */
export function appViolationsOf(m: MessageEvent): AppViolationEvent[] {
  return model.appViolationsByMessage.get(appMessageKey(m.conn, m.dir, m.firstFrame)) ?? [];
}

const NAME_HINT: Record<string, string> = {
  'socket.io': 'event name…',
  graphql: 'operation or type…',
  stomp: 'command or destination…',
  mqtt: 'topic or packet type…',
  'json-rpc': 'method…',
};

export function AppFilterControls() {
  // The protocols seen live in the model: read `version` so a new batch renders this again.
  version.value;
  const f = filters.value;
  const a = f.app ?? NO_APP_FILTER;
  const seen = [...new Set([...model.appProtocols].map(protocolLabel))].sort();
  if (seen.length === 0 && !appFilterActive(a)) return null;
  const set = (patch: Partial<AppFilter>) => (filters.value = { ...f, app: { ...a, ...patch } });
  const placeholder = a.protocol !== 'all' && a.protocol !== 'decoded' ? NAME_HINT[a.protocol] ?? 'name…' : 'event, method, topic…';
  return (
    <div class="app-filters" role="group" aria-label="Application layer filters">
      <select aria-label="Application protocol" value={a.protocol} onChange={(e) => set({ protocol: (e.target as HTMLSelectElement).value as AppFilter['protocol'] })}>
        <option value="all">any layer</option>
        <option value="decoded">decoded only</option>
        {seen.map((p) => (
          <option value={p}>{p}</option>
        ))}
        {a.protocol !== 'all' && a.protocol !== 'decoded' && !seen.includes(a.protocol) && <option value={a.protocol}>{a.protocol}</option>}
      </select>
      <input
        type="search"
        class="app-name"
        aria-label="Event name, method, topic or command"
        placeholder={placeholder}
        value={a.name}
        onInput={(e) => set({ name: (e.target as HTMLInputElement).value })}
      />
      <input type="search" class="app-id" aria-label="Id (request, operation, ack or packet id)" placeholder="id" value={a.id} onInput={(e) => set({ id: (e.target as HTMLInputElement).value })} />
    </div>
  );
}
