/**
 * The Timeline's control bar. It keeps one row in the Timeline's column (434 px at a 1024 px wide
 * window, ~610 px at 1280), so the rows a learner came to see keep the panel: what is used all
 * the time stays in the bar (Frames / Messages, the text filter, Pause, the count); the rest sits
 * behind one "Filters" button that opens a panel under it, its button counting the filters set in
 * it. When the column is wide enough for everything (1920 px), the connection, direction and kind
 * filters, regex and the time column stay in the bar as before and only the application layer's
 * filters (which would wrap the bar even there) stay behind the button.
 */
import { signal } from '@preact/signals';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { appFilterActive, NO_APP_FILTER } from '../lib/app-layer.ts';
import { filters, model, paused, rowMode, version, type Filters } from '../state.ts';
import { AppFilterControls } from './AppFilters.tsx';
import { timeMode } from './Timeline.tsx';
import '../filter-bar.css';

/** The Filters panel is open. */
const moreOpen = signal(false);

/**
 * The bar's width with every control in it, measured the last time it was laid out that way;
 * below it the bar is compact. Kept across remounts (switching tabs) so the bar does not start
 * wide and jump.
 */
let wideNeeds = 0;
let lastCompact = false;

/** Does the application layer's filter panel have anything to offer (a decoded message seen, or a filter set)? */
function appOffered(f: Filters): boolean {
  version.value;
  return model.appProtocols.size > 0 || appFilterActive(f.app ?? NO_APP_FILTER);
}

/** How many filters are set among those behind the button. */
function hiddenActive(f: Filters, compact: boolean): number {
  const a = f.app ?? NO_APP_FILTER;
  let n = (a.protocol !== 'all' ? 1 : 0) + (a.name.trim() ? 1 : 0) + (a.id.trim() ? 1 : 0);
  if (compact) n += (f.conn !== null ? 1 : 0) + (f.dir !== 'both' ? 1 : 0) + (f.kind !== 'all' ? 1 : 0);
  return n;
}

/** The bar laid out with every control: the sum of its items' widths, gaps and padding. */
function naturalWidth(bar: HTMLElement): number {
  const s = getComputedStyle(bar);
  const gap = parseFloat(s.columnGap) || 0;
  let w = parseFloat(s.paddingLeft) + parseFloat(s.paddingRight);
  let n = 0;
  for (const el of bar.children) {
    if (el.classList.contains('tl-more')) continue; // the open panel floats over the rows
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    w += r.width;
    n++;
  }
  return Math.ceil(w + gap * Math.max(0, n - 1));
}

function ConnDirKind({ f, set }: { f: Filters; set: (patch: Partial<Filters>) => void }) {
  const conns = [...model.conns.keys()];
  return (
    <>
      <select aria-label="Connection" value={f.conn ?? ''} onChange={(e) => set({ conn: (e.target as HTMLSelectElement).value ? Number((e.target as HTMLSelectElement).value) : null })}>
        <option value="">all connections</option>
        {conns.map((c) => (
          <option value={c}>#{c}</option>
        ))}
      </select>
      <select aria-label="Direction" value={f.dir} onChange={(e) => set({ dir: (e.target as HTMLSelectElement).value as Filters['dir'] })}>
        <option value="both">both directions</option>
        <option value="client">client → server</option>
        <option value="server">server → client</option>
      </select>
      <select aria-label="Kind" value={f.kind} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value as Filters['kind'] })}>
        <option value="all">all kinds</option>
        <option value="data">data only</option>
        <option value="control">control only</option>
        <option value="http">HTTP only</option>
      </select>
    </>
  );
}

function Regex({ f, set }: { f: Filters; set: (patch: Partial<Filters>) => void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={f.regex} onChange={(e) => set({ regex: (e.target as HTMLInputElement).checked })} /> regex
    </label>
  );
}

function TimeColumn() {
  return (
    <div class="seg" role="group" aria-label="Time column">
      <button aria-pressed={timeMode.value === 'first'} onClick={() => (timeMode.value = 'first')} title="Times in seconds from the first row shown">
        from first
      </button>
      <button aria-pressed={timeMode.value === 'clock'} onClick={() => (timeMode.value = 'clock')} title="Times on the clock (local time)">
        clock
      </button>
    </div>
  );
}

/** Pause's two bars, or Resume's triangle: the compact bar's Pause button, named by its aria-label. */
function PauseIcon({ paused }: { paused: boolean }) {
  return (
    <svg class="tl-pause-icon" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true" focusable="false">
      {paused ? <path d="M3 1.5 L10.5 6 L3 10.5 Z" fill="currentColor" /> : <path d="M2.5 1.5 h2.5 v9 h-2.5 Z M7 1.5 h2.5 v9 h-2.5 Z" fill="currentColor" />}
    </svg>
  );
}

/**
 * `searched`: while a filter is still looking through a long history, the share looked at (0-1);
 * null once it has looked at every row.
 */
export function FilterBar({ shown, total, err, searched = null }: { shown: number; total: number; err: string | null; searched?: number | null }) {
  const f = filters.value;
  const set = (patch: Partial<Filters>) => (filters.value = { ...f, ...patch });
  const bar = useRef<HTMLDivElement>(null);
  const [compact, setCompact] = useState(lastCompact);
  lastCompact = compact;
  const open = moreOpen.value;

  // Wide or compact, from the bar's own width (the column's, which the window and the panels'
  // sizes set). The wide layout's width is measured while it is shown; a bar that grew a row
  // (a longer count) changes height, which calls this again.
  useLayoutEffect(() => {
    const el = bar.current;
    if (!el) return;
    const check = () => {
      const width = el.clientWidth;
      if (!lastCompact) {
        wideNeeds = naturalWidth(el);
        if (wideNeeds > width) setCompact(true);
      } else if (wideNeeds > 0 && width >= wideNeeds) setCompact(false);
    };
    // Measured at once the first time only: on the view's later openings the observer's first
    // report (after the frame's layout) checks again, and reading widths here would lay out the
    // whole page in the task that opens the view (issue 19: 50 ms of a Timeline's opening under
    // a flood).
    if (wideNeeds === 0) check();
    const ro = new ResizeObserver(check);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // The panel closes on Escape (focus back on its button) and on a click or focus elsewhere.
  useEffect(() => {
    if (!open) return;
    const root = bar.current;
    const toggle = () => root?.querySelector<HTMLButtonElement>('.tl-more-toggle');
    const away = (e: Event) => {
      const t = e.target as Node;
      if (root && !root.querySelector('.tl-more')?.contains(t) && !toggle()?.contains(t)) moreOpen.value = false;
    };
    const escape = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      moreOpen.value = false;
      toggle()?.focus();
    };
    document.addEventListener('pointerdown', away);
    document.addEventListener('focusin', away);
    document.addEventListener('keydown', escape);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('focusin', away);
      document.removeEventListener('keydown', escape);
    };
  }, [open]);

  const offerApp = appOffered(f);
  const showToggle = compact || offerApp;
  const active = hiddenActive(f, compact);
  return (
    <div class={compact ? 'filters compact' : 'filters'} role="toolbar" aria-label="Timeline filters" ref={bar}>
      <div class="seg" role="group" aria-label="Rows">
        <button aria-pressed={rowMode.value === 'frames'} onClick={() => (rowMode.value = 'frames')} title="One row per frame (m)">
          Frames
        </button>
        <button aria-pressed={rowMode.value === 'messages'} onClick={() => (rowMode.value = 'messages')} title="One row per message (m)">
          Messages
        </button>
      </div>
      {!compact && <ConnDirKind f={f} set={set} />}
      <input
        id="filter-text"
        type="search"
        aria-label="Filter text"
        placeholder={f.regex ? 'regex…' : compact ? 'filter… (/)' : 'filter text… (/)'}
        value={f.text}
        aria-invalid={err !== null}
        title={err ?? ''}
        onInput={(e) => set({ text: (e.target as HTMLInputElement).value })}
      />
      {!compact && <Regex f={f} set={set} />}
      {showToggle && (
        <button
          class={active > 0 ? 'tl-more-toggle set' : 'tl-more-toggle'}
          aria-expanded={open}
          aria-controls="tl-more"
          title={compact ? 'Filter by connection, direction, kind or application layer; regex; the time column' : 'Filter by the application layer: protocol, event name, id'}
          onClick={() => (moreOpen.value = !open)}
        >
          Filters{' '}
          {active > 0 && (
            <span class="tl-more-count">
              {active}
              <span class="sr-only"> set</span>
            </span>
          )}{' '}
          <span aria-hidden="true">▾</span>
        </button>
      )}
      {showToggle && (
        <div id="tl-more" class="tl-more popover" role="group" aria-label="More filters" hidden={!open}>
          {compact && (
            <div class="tl-more-grid">
              <ConnDirKind f={f} set={set} />
              <Regex f={f} set={set} />
              <TimeColumn />
            </div>
          )}
          {offerApp && (
            <div class="tl-more-app">
              <span class="muted" aria-hidden="true">
                application layer
              </span>
              <AppFilterControls />
            </div>
          )}
        </div>
      )}
      {!compact && <TimeColumn />}
      <button
        class={paused.value ? 'pause on' : 'pause'}
        aria-pressed={paused.value}
        aria-label={compact ? (paused.value ? 'Resume' : 'Pause') : undefined}
        onClick={() => (paused.value = !paused.value)}
        title={paused.value ? 'Resume the timeline (space)' : 'Pause the timeline (space)'}
      >
        {compact ? <PauseIcon paused={paused.value} /> : paused.value ? 'Resume' : 'Pause'}
      </button>
      <span class="muted count" aria-live="polite">
        {searched !== null ? `searching ${Math.floor(searched * 10) * 10} %: ` : ''}
        {shown.toLocaleString('en-US')} of {total.toLocaleString('en-US')}
      </span>
    </div>
  );
}
