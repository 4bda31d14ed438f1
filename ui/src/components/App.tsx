import { InsightsBar } from './Insights.tsx';
import { CloseAutopsy } from './CloseAutopsy.tsx';
import { signal } from '@preact/signals';
import { plural } from '../lib/plural.ts';
import { useEffect } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { activeWorkspace, centerView, detailTab, model, paused, rowMode, runnerStatus, selectedConn, selection, shed, storeStatus, streamError, streamState, topology, version } from '../state.ts';
import { Connections } from './Connections.tsx';
import { ClusterTarget } from './ClusterTopology.tsx';
import { ConformanceView } from './ConformanceView.tsx';
import { Crafter } from './Crafter.tsx';
import { ActiveFaultsBadge, FaultsPanel } from './FaultsPanel.tsx';
import { Editor } from './Editor.tsx';
import { runner } from '../runner/run-client.ts';
import { FrameAnatomy } from './FrameAnatomy.tsx';
import { InterceptButton, InterceptNote } from './InterceptButton.tsx';
import { HandshakeView } from './HandshakeView.tsx';
import { LessonPane } from './LessonPane.tsx';
import { lessonDoc } from '../lessons.ts';
import { MessageView } from './MessageView.tsx';
import { RecordingBar, RecordingMenu, RecordingMenuError } from './RecordingBar.tsx';
import { SequenceDiagram } from './SequenceDiagram.tsx';
import { StatsView } from './StatsView.tsx';
import { Timeline } from './Timeline.tsx';
import { countsVersion } from '../lib/counts-version.ts';

/** "your server (server.js)" → "server.js": the header's short form (the tooltip has the rest). */
function fileOf(label: string): string {
  return /\(([^()]+)\)$/.exec(label)?.[1] ?? label;
}

/**
 * Where clients connect, then where the bytes go. The wiretap's address is what a learner types
 * into a client: it never shrinks. The target (secondary) takes what room is left, with an
 * ellipsis and the whole route in the tooltip.
 */
function Topology() {
  const t = topology.value;
  if (!t) {
    return streamState.value === 'refused' ? (
      <span class="topology bad">the playground refused this page (no valid session token)</span>
    ) : (
      <span class="topology">connecting to the playground…</span>
    );
  }
  if (t.proxy) {
    const proxy = `http://${t.proxy.host}:${t.proxy.port}`;
    const route = `Browsers use the proxy at ${proxy}; each connection goes to the host it asked for (shown as its target), decoded on the way`;
    return (
      <>
        <span class="topology tap" title={route}>
          browsers → <b class="tap-url">proxy {proxy}</b>
        </span>
        <span class="topology topo-target" title={route}>
          → {t.targetLabel}
        </span>
      </>
    );
  }
  const tap = `ws://${t.tap.host}:${t.tap.port}`;
  const target = `${t.target.host}:${t.target.port}`;
  const route = `Clients connect to the wiretap at ${tap}, which relays every byte to ${t.targetLabel} (${target}) and decodes it on the way`;
  // Lesson 13: its reverse proxy stands in front of the wiretap (the page's Run connects to it).
  const p = t.lessonProxy;
  const proxyRoute = p
    ? `The lesson's reverse proxy (proxy.js) on ws://localhost:${p.publicPort}${p.tls ? ` and wss://localhost:${p.tls.publicPort}` : ''} forwards to the wiretap; it cuts a WebSocket idle for ${p.idleMs / 1000} s`
    : '';
  return (
    <>
      {p && (
        <span class="topology" title={proxyRoute}>
          clients → <b>proxy :{p.publicPort}</b>
        </span>
      )}
      <span class="topology tap" title={route}>
        {p ? '→' : 'clients →'} <b class="tap-url">wiretap {tap}</b>
      </span>
      {t.cluster ? (
        <ClusterTarget t={{ ...t, cluster: t.cluster }} file={fileOf(t.targetLabel)} tap={tap} />
      ) : (
        <span class="topology topo-target" title={route}>
          → {fileOf(t.targetLabel)} <span class="muted">{target}</span>
        </span>
      )}
    </>
  );
}

/**
 * The learner's server.js when it is not serving (crashed, not listening, ended): seen from any
 * tab, one click from the Code tab where its message and stack are. Hidden while it runs.
 */
function ServerChip() {
  const s = runnerStatus.value;
  if (!s || (s.status !== 'crashed' && s.status !== 'not-listening' && s.status !== 'stopped')) return null;
  const what = s.status === 'crashed' ? 'crashed' : s.status === 'not-listening' ? 'not listening' : 'stopped';
  return (
    <button
      class={`server-chip ${s.status === 'crashed' ? 'bad' : 'warn'}`}
      title={`${s.message ?? `${s.file} ${what}`}\nClick to open the Code tab.`}
      aria-label={`${s.file} ${what}: open the Code tab`}
      onClick={() => (centerView.value = 'editor')}
    >
      <span class="server-chip-icon" aria-hidden="true">
        {s.status === 'crashed' ? '✗' : '!'}
      </span>
      {s.file} {what}
    </button>
  );
}

/** A message with `code` spans, as the playground writes them, shown as code. */
function withCode(text: string): ComponentChildren {
  return text.split('`').map((part, i) => (i % 2 === 1 ? <code>{part}</code> : part));
}

function StatusBar() {
  // Its counts draw four times a second under a stream, not with every draw of the views.
  countsVersion.value;
  const s = storeStatus.value;
  const lost = model.trimmed;
  let http = 0;
  for (const c of model.conns.values()) http += c.httpCount;
  // The store's count comes once a second; the page's own count is never behind what it shows.
  const frames = s ? Math.max(s.counts.frame ?? 0, model.trimmed + model.frames.length) : 0;
  const open = [...model.conns.values()].filter((c) => c.status !== 'closed').length;
  // A Run being prepared or its peers starting, nothing open yet: say so rather than "0 open".
  return (
    <div class="status" role="status" aria-live="polite">
      {/* From the page's own events (the store's status comes once a second and lags behind them). */}
      <span>{s ? (open === 0 && runner.value.starting ? 'connecting…' : `${open} open`) : ''}</span>
      {/* Plain HTTP (a polling client, lesson 1) carries no frames: its requests are counted too,
          in the same compact span ("3 frames · 8 HTTP") so the header stays one row at 1280 px. */}
      {s && (
        <span title={http > 0 ? `${plural(frames, 'frame')} captured, ${plural(http, 'HTTP request')}` : undefined}>
          {http > 0 ? `${plural(frames, 'frame')} · ${http.toLocaleString('en-US')} HTTP` : `${plural(frames, 'frame')} captured`}
        </span>
      )}
      {s && s.dropped > 0 && <span class="warn">{s.dropped.toLocaleString('en-US')} events dropped from the store (bound)</span>}
      {lost > 0 && <span class="warn">{lost.toLocaleString('en-US')} frames dropped from view</span>}
      {shed.value > 0 && <span class="warn">{shed.value.toLocaleString('en-US')} events not shown: this tab was too slow to keep up</span>}
    </div>
  );
}

function DetailPanel() {
  version.value;
  // Lessons need the learner's files (wsplay start): with wsplay tap there is no Lesson tab.
  const lessons = activeWorkspace.value !== null;
  const tab = detailTab.value === 'lesson' && !lessons ? 'frame' : detailTab.value;
  const conn = selectedConn.value !== null ? model.conns.get(selectedConn.value) ?? null : null;
  const sel = selection.value;
  const frame = sel?.kind === 'frame' ? model.framesByKey.get(sel.key) ?? null : null;
  const row = sel?.kind === 'message' ? sel.row : null;
  return (
    <section class="panel detail" aria-label="Details">
      <div class="tabs" role="tablist">
        {(lessons ? (['lesson', 'handshake', 'frame', 'message'] as const) : (['handshake', 'frame', 'message'] as const)).map((t) => (
          <button role="tab" aria-selected={tab === t} class={tab === t ? 'tab active' : 'tab'} onClick={() => (detailTab.value = t)}>
            {t === 'lesson' ? (lessonDoc.value ? `Lesson ${lessonDoc.value.number}` : 'Lessons') : t === 'handshake' ? 'Handshake' : t === 'frame' ? 'Frame anatomy' : 'Message'}
          </button>
        ))}
      </div>
      {/* Kept mounted: the learner finds the lesson where they left it (scrolled, hints open). */}
      {lessons && (
        <div class="detail-body lesson-host" style={{ display: tab === 'lesson' ? 'flex' : 'none' }}>
          <LessonPane />
        </div>
      )}
      {tab !== 'lesson' && (
        // Focusable so that a keyboard can scroll a long handshake or frame (WCAG 2.1.1).
        <div class="detail-body" tabIndex={0} role="tabpanel" aria-label={tab === 'handshake' ? 'Handshake' : tab === 'frame' ? 'Frame anatomy' : 'Message'}>
          {tab === 'handshake' && conn && <CloseAutopsy conn={conn} />}
          {tab === 'handshake' && <HandshakeView conn={conn} />}
          {tab === 'frame' && <FrameAnatomy frame={frame} />}
          {tab === 'message' && <MessageView row={row} />}
        </div>
      )}
    </section>
  );
}

function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (target.closest('input, textarea, select, [contenteditable]')) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      switch (e.key) {
        case ' ':
        case 'p':
          paused.value = !paused.value;
          break;
        case 'm':
          rowMode.value = rowMode.value === 'frames' ? 'messages' : 'frames';
          break;
        case '1':
          centerView.value = 'timeline';
          break;
        case '2':
          centerView.value = 'diagram';
          break;
        case '3':
          centerView.value = 'stats';
          break;
        case '4':
          centerView.value = 'editor';
          break;
        case '5':
          centerView.value = 'break';
          break;
        case '6':
          centerView.value = 'conformance';
          break;
        case '/':
          document.querySelector<HTMLInputElement>('#filter-text')?.focus();
          break;
        default:
          return;
      }
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/**
 * The Code tab under `wsplay tap`: there is no workspace, no server.js to run and no lessons, so
 * no editor whose every action would fail; one line says what needs the playground, and how to
 * drive the tapped server instead.
 */
function TapModeCode() {
  const t = topology.value;
  if (t?.proxy) {
    return (
      <div class="tap-mode-code" role="note">
        <p>
          <b>wsplay proxy</b> runs the proxy and this dashboard only: editing and running <code>client.js</code> and <code>server.js</code>, and the lessons, need the
          playground (<code>npm start</code>).
        </p>
        <p>
          Browse with <b>Open an intercepted browser</b> (or <code>npx wsplay browser URL</code>): every connection of that browser shows here.
        </p>
      </div>
    );
  }
  const tap = t ? `ws://${t.tap.host}:${t.tap.port}` : 'the wiretap';
  return (
    <div class="tap-mode-code" role="note">
      <p>
        <b>wsplay tap</b> runs the wiretap and this dashboard only: editing and running <code>client.js</code> and <code>server.js</code>, and the lessons, need the
        playground (<code>npm start</code>).
      </p>
      <p>
        To talk to the tapped server, connect any client to <code>{tap}</code> (for example <code>npx wscat -c {tap}</code>), or build a frame in the{' '}
        <button class="link-btn" onClick={() => (centerView.value = 'break')}>
          Break it
        </button>{' '}
        tab and inject it into a connection.
      </p>
    </div>
  );
}

const editorOpened = signal(false);
const breakOpened = signal(false);

export function App() {
  useShortcuts();
  const view = centerView.value;
  if (view === 'editor' && !editorOpened.value) editorOpened.value = true;
  if (view === 'break' && !breakOpened.value) breakOpened.value = true;
  const tapMode = topology.value?.mode === 'tap';
  return (
    <div class="app">
      <header class="top">
        <h1>WebSocket Playground</h1>
        <Topology />
        {/* Under 1440 px the header is always two rows (this break starts the second), so a chip
            that appears never changes its height. */}
        <span class="top-break" aria-hidden="true" />
        <ServerChip />
        <ActiveFaultsBadge onOpen={() => (centerView.value = 'break')} />
        <StatusBar />
        <InterceptButton />
        <RecordingMenu />
      </header>
      <InsightsBar />
      <RecordingBar />
      <RecordingMenuError />
      <InterceptNote />
      {streamState.value !== 'live' && streamError.value && (
        <div class={streamState.value === 'refused' ? 'banner error' : 'banner'} role="alert">
          {withCode(streamError.value)}
        </div>
      )}
      <main class="layout">
        <Connections />
        <section class="panel center" aria-label="Capture">
          <div class="tabs" role="tablist">
            {(
              [
                ['timeline', 'Timeline', '1'],
                ['diagram', 'Sequence diagram', '2'],
                ['stats', 'Stats', '3'],
                ['editor', 'Code', '4'],
                ['break', 'Break it', '5'],
                ['conformance', 'Conformance', '6'],
              ] as const
            ).map(([v, label, key]) => (
              <button role="tab" aria-selected={view === v} aria-label={label} class={view === v ? 'tab active' : 'tab'} title={`${label} (${key})`} onClick={() => (centerView.value = v)}>
                {v === 'diagram' ? (
                  // Under 1280 px the six names fit one row only with this one shortened; its name stays whole.
                  <>
                    <span class="tab-long">{label}</span>
                    <span class="tab-short" aria-hidden="true">
                      Diagram
                    </span>
                  </>
                ) : (
                  label
                )}
              </button>
            ))}
          </div>
          {view === 'timeline' && <Timeline />}
          {view === 'diagram' && <SequenceDiagram />}
          {view === 'stats' && <StatsView />}
          {view === 'conformance' && <ConformanceView />}
          {/* Kept mounted once opened: the crafter keeps the frame being built and its answer. */}
          {(view === 'break' || breakOpened.value) && (
            <div class="break-it" style={{ display: view === 'break' ? undefined : 'none' }}>
              <FaultsPanel />
              <Crafter />
            </div>
          )}
          {/* Kept mounted once opened: Monaco keeps its models, undo history and running clients. */}
          {view === 'editor' && tapMode && <TapModeCode />}
          {!tapMode && (view === 'editor' || editorOpened.value) && (
            <div class="editor-host" style={{ display: view === 'editor' ? 'flex' : 'none' }}>
              <Editor />
            </div>
          )}
        </section>
        <DetailPanel />
      </main>
    </div>
  );
}
