import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import type { FaultsState } from '../../../server/app/control-routes.ts';
import { describeFault, FAULT_KIND_LIST, type Fault, type FaultDir, type FaultKind, type FaultKindInfo } from '../../../server/tap/faults.ts';
import { formatBytes } from '../lib/bytes.ts';
import { model, tokenFromUrl, version } from '../state.ts';
import '../control.css';

/**
 * Faults, as the dashboard controls them: the state behind GET /api/faults (polled while a
 * page shows it, refreshed after each change made here), the FaultsPanel that turns faults on
 * and off, and the ActiveFaultsBadge that keeps them in sight from the header.
 */

/** null until the first answer; `available: false` when this playground has no command channel. */
export const faults = signal<(FaultsState & { available: true }) | { available: false; error: string } | null>(null);
/** The last command that failed, for the panel to show. */
export const controlError = signal('');

/** A call to the command channel; rejects with the server's sentence when it refuses. */
export async function control<T = unknown>(path: string, method = 'GET', json?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'X-Wsplay-Token': tokenFromUrl() };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), cache: 'no-store' });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) throw new Error((body as { error?: string } | null)?.error ?? `${res.status} ${res.statusText}`);
  return body as T;
}

export async function refreshFaults(): Promise<void> {
  try {
    const state = await control<FaultsState>('/api/faults');
    faults.value = { ...state, available: true };
  } catch (err) {
    faults.value = { available: false, error: (err as Error).message };
  }
}

/** Run a command, then show the new state (or the reason it failed). */
async function command(path: string, method: string, json?: unknown): Promise<boolean> {
  try {
    await control(path, method, json);
    controlError.value = '';
    return true;
  } catch (err) {
    controlError.value = (err as Error).message;
    return false;
  } finally {
    await refreshFaults();
  }
}

export const clearAllFaults = () => command('/api/faults', 'DELETE');

// Faults change from other pages and the command line too; a connection's own faults go when
// it ends. Poll while some component shows them and the page is visible.
const POLL_MS = 1500;
let watchers = 0;
let timer: ReturnType<typeof setInterval> | null = null;

function useFaultsPolling(): void {
  useEffect(() => {
    watchers++;
    if (!timer) {
      void refreshFaults();
      timer = setInterval(() => {
        if (document.visibilityState === 'visible') void refreshFaults();
      }, POLL_MS);
    }
    return () => {
      if (--watchers === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
  }, []);
}

const scopeText = (conn: number | null) => (conn === null ? 'all connections' : `#${conn}`);

/**
 * For the header: the faults that are on, always in sight, and one click to clear them all.
 * Renders nothing when none is on.
 */
export function ActiveFaultsBadge({ onOpen }: { onOpen?: () => void }) {
  useFaultsPolling();
  const f = faults.value;
  if (!f || !f.available || f.faults.length === 0) return null;
  const list = f.faults.map((x) => `${x.text} (${scopeText(x.conn)})`);
  return (
    <span class="faults-badge" role="status" aria-label={`Faults on: ${list.join('; ')}`}>
      <button class="faults-badge-open" title={`Faults on:\n${list.join('\n')}`} onClick={onOpen}>
        <span class="faults-badge-icon" aria-hidden="true">⚡</span>
        {/* Short in the header (a fault on every connection is the usual case); whole in the tooltip. */}
        {f.faults.length === 1 ? (f.faults[0]!.conn === null ? f.faults[0]!.text : list[0]) : `${f.faults.length} faults on: ${f.faults.map((x) => x.text).join(' · ')}`}
      </button>
      <button class="faults-badge-clear" title="Turn every fault off" onClick={() => void clearAllFaults()}>
        Clear
      </button>
    </span>
  );
}

/** Connections that are still open, newest first, for the scope and target selects. */
export function openConnections(): number[] {
  version.value;
  return [...model.conns.values()].filter((c) => c.status !== 'closed').map((c) => c.id).reverse();
}

const DIRS: Array<[FaultDir, string]> = [
  ['both', 'both ways'],
  ['client', 'client → server'],
  ['server', 'server → client'],
];

function pongDirLabel(d: FaultDir): string {
  return d === 'both' ? 'from both' : d === 'client' ? "client's" : "server's";
}

function FaultRow({ info, scope, active }: { info: FaultKindInfo; scope: number | null; active: Fault | undefined }) {
  const [value, setValue] = useState(String(active?.value ?? info.value));
  const [dir, setDir] = useState<FaultDir>(active?.dir ?? 'both');
  useEffect(() => {
    if (active) {
      setValue(String(active.value || info.value));
      setDir(active.dir);
    }
  }, [active?.id]);
  const valid = !info.unit || (/^\d+$/.test(value) && Number(value) >= info.min && Number(value) <= info.max);
  const id = `fault-${info.kind}`;
  const turnOn = (v = value, d = dir) =>
    command('/api/faults', 'POST', { kind: info.kind, conn: scope, ...(info.unit ? { value: Number(v) } : {}), ...(info.directional ? { dir: d } : {}) });
  const toggle = async () => {
    if (active) await command(`/api/faults/${active.id}`, 'DELETE');
    else if (valid) await turnOn();
  };
  const changeDir = async (d: FaultDir) => {
    setDir(d);
    if (active) {
      // A fault of another direction is another fault: replace it.
      await command(`/api/faults/${active.id}`, 'DELETE');
      await turnOn(value, d);
    }
  };
  return (
    <li class={active ? 'fault-row on' : 'fault-row'} data-kind={info.kind}>
      <label class="fault-toggle" for={id}>
        <input id={id} type="checkbox" role="switch" checked={!!active} disabled={!active && !valid} onChange={() => void toggle()} />
        <span class="fault-label">{info.label}</span>
      </label>
      <span class="fault-params">
        {info.unit && (
          <label class="fault-value">
            <input
              type="number"
              inputMode="numeric"
              min={info.min}
              max={info.max}
              value={value}
              aria-label={`${info.label}: ${info.unit}`}
              aria-invalid={!valid}
              onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
              onChange={(e) => {
                const v = (e.currentTarget as HTMLInputElement).value;
                if (active && /^\d+$/.test(v) && Number(v) >= info.min && Number(v) <= info.max) void turnOn(v);
              }}
            />
            <span class="muted">{info.unit}</span>
          </label>
        )}
        {info.directional && (
          <select aria-label={`${info.label}: direction`} value={dir} onChange={(e) => void changeDir((e.currentTarget as HTMLSelectElement).value as FaultDir)}>
            {DIRS.map(([d, label]) => (
              <option value={d}>{info.kind.endsWith('pongs') ? `pongs ${pongDirLabel(d)}` : label}</option>
            ))}
          </select>
        )}
      </span>
      <span class="fault-help muted">{info.help}</span>
    </li>
  );
}

function Stats({ state }: { state: FaultsState }) {
  const lines = state.status
    .map((s) => {
      const parts: string[] = [];
      const both = (k: 'droppedPongs' | 'heldPongs' | 'swallowed' | 'injected') => s.client[k] + s.server[k];
      if (both('droppedPongs')) parts.push(`${both('droppedPongs')} pong${both('droppedPongs') === 1 ? '' : 's'} dropped`);
      if (both('heldPongs')) parts.push(`${both('heldPongs')} pong${both('heldPongs') === 1 ? '' : 's'} held back`);
      if (both('swallowed')) parts.push(`${formatBytes(both('swallowed'))} swallowed`);
      if (both('injected')) parts.push(`${both('injected')} frame${both('injected') === 1 ? '' : 's'} injected`);
      if (s.server.holding) parts.push("holding the server's 101");
      return parts.length ? { conn: s.conn, text: parts.join(', ') } : null;
    })
    .filter((x): x is { conn: number; text: string } => x !== null);
  if (lines.length === 0) return null;
  return (
    <ul class="fault-stats" aria-label="What the faults did">
      {lines.map((l) => (
        <li>
          <b>#{l.conn}</b> {l.text}
        </li>
      ))}
    </ul>
  );
}

/** Turn faults on and off, for one connection or all; reset or close connections from the middle. */
export function FaultsPanel() {
  useFaultsPolling();
  version.value;
  const [scope, setScope] = useState<number | null>(null);
  const [code, setCode] = useState('1001');
  const [reason, setReason] = useState('');
  const f = faults.value;
  const conns = openConnections();
  if (f && !f.available) {
    return (
      <section class="control faults-panel" aria-label="Faults">
        <h2>Faults</h2>
        <p class="empty">This playground has no fault control ({f.error}).</p>
      </section>
    );
  }
  const list = f?.faults ?? [];
  const inScope = (kind: FaultKind) => list.filter((x) => x.kind === kind && x.conn === scope).at(-1);
  const others = list.filter((x) => x.conn !== scope);
  const codeOk = /^\d+$/.test(code) && Number(code) <= 65535;
  const target = scope === null ? 'every open connection' : `#${scope}`;
  return (
    <section class="control faults-panel" aria-label="Faults">
      <h2>
        Faults
        <span class="muted">{list.length > 0 ? `${list.length} on` : 'none on'}</span>
        <button class="link" disabled={list.length === 0} onClick={() => void clearAllFaults()}>
          Clear all
        </button>
      </h2>
      <div class="control-row">
        <label>
          Apply to{' '}
          <select aria-label="Apply faults to" value={scope === null ? 'all' : String(scope)} onChange={(e) => {
            const v = (e.currentTarget as HTMLSelectElement).value;
            setScope(v === 'all' ? null : Number(v));
          }}>
            <option value="all">all connections (new ones too)</option>
            {scope !== null && !conns.includes(scope) && <option value={String(scope)}>#{scope} (closed)</option>}
            {conns.map((c) => (
              <option value={String(c)}>connection #{c}</option>
            ))}
          </select>
        </label>
        {scope !== null && <span class="muted">a connection's own fault wins over one for all</span>}
      </div>
      <ul class="fault-list">
        {FAULT_KIND_LIST.map((info) => (
          <FaultRow key={`${info.kind}:${scope}`} info={info} scope={scope} active={inScope(info.kind)} />
        ))}
      </ul>
      {others.length > 0 && (
        <p class="fault-others">
          Also on:{' '}
          {others.map((x) => (
            <span class="fault-chip">
              {describeFault(x)} <span class="muted">{scopeText(x.conn)}</span>
              <button aria-label={`Turn off ${x.text} (${scopeText(x.conn)})`} title="Turn off" onClick={() => void command(`/api/faults/${x.id}`, 'DELETE')}>
                ✕
              </button>
            </span>
          ))}
        </p>
      )}
      <div class="control-row actions" aria-label="One-off actions">
        <button
          disabled={conns.length === 0}
          title="Both sides get a TCP RST: a crashed proxy, a pulled cable"
          onClick={() => void command('/api/faults/reset', 'POST', { conn: scope })}
        >
          Reset {target}
        </button>
        <span class="close-with">
          <button
            disabled={conns.length === 0 || !codeOk}
            title="The wiretap sends each side a close frame with this code, then ends both"
            onClick={() => void command('/api/faults/close', 'POST', { conn: scope, code: Number(code), reason })}
          >
            Close {target} with
          </button>
          <input type="number" min={0} max={65535} value={code} aria-label="Close code" aria-invalid={!codeOk} onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)} />
          <input type="text" maxLength={123} placeholder="reason (optional)" value={reason} aria-label="Close reason" onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} />
        </span>
      </div>
      {controlError.value && (
        <p class="control-error" role="alert">
          {controlError.value}
        </p>
      )}
      {f && <Stats state={f} />}
    </section>
  );
}
