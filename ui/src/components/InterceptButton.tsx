import { signal } from '@preact/signals';
import type { BrowserOutcome } from '../../../server/tap/interception.ts';
import { topology } from '../state.ts';
import { control } from './FaultsPanel.tsx';
import '../intercept.css';

/**
 * "Open an intercepted browser": a Chromium through wsplay's proxy (POST /api/intercept/browser,
 * server/tap/interception.ts), whose WebSockets to any site, wss:// included, show in this
 * dashboard. Under `npm start` and `wsplay tap` the proxy starts on a free port at the first
 * click; the note under the header says where it is and where the CA is.
 */
const note = signal<{ kind: 'ok' | 'error' | 'busy'; text: string } | null>(null);

async function open(): Promise<void> {
  note.value = { kind: 'busy', text: 'Starting the proxy (if needed) and Chromium…' };
  try {
    const r = await control<BrowserOutcome>('/api/intercept/browser', 'POST', {});
    note.value = r.ok
      ? {
          kind: 'ok',
          text: `Intercepted browser started (pid ${r.pid}) through the proxy at ${r.proxy}. Only it trusts wsplay's local CA (${r.caPath}); its profile is temporary. Open any site there: its WebSockets show here.`,
        }
      : { kind: 'error', text: r.message };
  } catch (err) {
    note.value = { kind: 'error', text: (err as Error).message };
  }
}

export function InterceptButton() {
  const t = topology.value;
  if (!t) return null;
  const proxy = t.proxy ? `the proxy at http://${t.proxy.host}:${t.proxy.port}` : "wsplay's proxy (started on a free port at the first click)";
  return (
    <button
      class="intercept-btn"
      aria-label="Open an intercepted browser"
      disabled={note.value?.kind === 'busy'}
      title={`Open an intercepted browser: Chromium with a fresh profile through ${proxy}. Its WebSockets to any site, wss:// included, show here. Only that browser trusts wsplay's local CA.`}
      onClick={() => void open()}
    >
      {/* A globe: the whole web, seen through the proxy. */}
      <svg class="intercept-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
        <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.3" />
        <ellipse cx="8" cy="8" rx="2.8" ry="6.5" fill="none" stroke="currentColor" stroke-width="1.1" />
        <path d="M1.8 5.5h12.4M1.8 10.5h12.4" stroke="currentColor" stroke-width="1.1" />
      </svg>
      <span class="intercept-label">Open an intercepted browser</span>
    </button>
  );
}

/** What the last click did, under the header until dismissed. */
export function InterceptNote() {
  const n = note.value;
  if (!n) return null;
  return (
    <div class={n.kind === 'error' ? 'banner error intercept-note' : 'banner intercept-note'} role={n.kind === 'error' ? 'alert' : 'status'}>
      <span>{n.text}</span>
      {n.kind !== 'busy' && <button onClick={() => (note.value = null)}>Dismiss</button>}
    </div>
  );
}
