import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { Answer, ConnectionReport, StepReport } from '../../../server/capture/replay.ts';
import type { ReplayResponse } from '../../../server/app/recording-routes.ts';
import {
  backToLive,
  barError,
  exportCapture,
  openRecordingFile,
  play,
  playing,
  playSpeed,
  recording,
  replayRecording,
  replayState,
  saveRecording,
  scrubTime,
  scrubTo,
  showLiveConnection,
  shownEvents,
  stopPlaying,
  type RecordingView,
} from '../recording.ts';
import '../recording.css';

/**
 * Recordings in the dashboard. RecordingMenu, in the header while the views show the live
 * capture: save it as a recording, open one, export pcapng or HAR. RecordingBar, under the
 * header while a recording is on view: its name, a time scrubber, the replay of its client
 * side against the current server (and the report), and the way back to live.
 */

const ACCEPT = '.jsonl,.ndjson,.json,.txt,application/x-ndjson,application/json,text/plain';
const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

/** The report dialog is open. */
const reportOpen = signal(false);

function OpenButton({ label }: { label: string }) {
  return (
    <label class="button-like" title="Open a recording (.jsonl) saved from wsplay: it replaces the live capture until you go back to live">
      {label}
      <input
        type="file"
        class="sr-only"
        accept={ACCEPT}
        aria-label={label}
        onChange={(e) => {
          const input = e.currentTarget as HTMLInputElement;
          const file = input.files?.[0];
          // Reset, so picking the same file again opens it again.
          input.value = '';
          menuOpen.value = false;
          if (file) void openRecordingFile(file);
        }}
      />
    </label>
  );
}

/** The header's recording menu is open. */
const menuOpen = signal(false);

/**
 * The live capture's recording actions, behind one header button so the header keeps one row at
 * 1280 px (and its height at any width, whatever chips appear): Save recording, Open recording…,
 * Export pcapng and HAR. A disclosure, not an ARIA menu: plain buttons that Tab reaches. Closes
 * on Escape, on a click elsewhere and after an action. Hidden while a recording is on view
 * (RecordingBar has its own).
 */
export function RecordingMenu() {
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!menuOpen.value) return;
    const away = (e: Event) => {
      if (root.current && !root.current.contains(e.target as Node)) menuOpen.value = false;
    };
    const escape = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      menuOpen.value = false;
      root.current?.querySelector<HTMLButtonElement>('.recmenu-toggle')?.focus();
    };
    document.addEventListener('pointerdown', away);
    document.addEventListener('keydown', escape);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('keydown', escape);
    };
  }, [menuOpen.value]);
  if (recording.value) return null;
  const act = (fn: () => void) => () => {
    menuOpen.value = false;
    fn();
  };
  return (
    <div class="recmenu" role="group" aria-label="Recording" ref={root}>
      <button
        class="recmenu-toggle"
        aria-expanded={menuOpen.value}
        aria-controls="recmenu-items"
        title="Save the capture as a recording, open one, or export it as pcapng or HAR"
        onClick={() => (menuOpen.value = !menuOpen.value)}
      >
        Recording <span aria-hidden="true">▾</span>
      </button>
      <div id="recmenu-items" class="recmenu-items popover" hidden={!menuOpen.value}>
        <button onClick={act(() => void saveRecording())} title="Download everything captured so far as a recording (JSON Lines, one event per line)">
          Save recording
        </button>
        <OpenButton label="Open recording…" />
        <button onClick={act(() => void exportCapture('pcapng'))} title="Export the capture as pcapng, for Wireshark and tshark">
          Export pcapng
        </button>
        <button onClick={act(() => void exportCapture('har'))} title="Export the capture as HAR 1.2 with Chrome's _webSocketMessages">
          Export HAR
        </button>
      </div>
    </div>
  );
}

/**
 * What went wrong with the live capture's recording buttons (a file that is no recording, a
 * failed download), in full under the header, until dismissed or the next try.
 */
export function RecordingMenuError() {
  const error = barError.value;
  if (recording.value || !error) return null;
  return (
    <div class="banner error recmenu-error" role="alert">
      <span>{error}</span>
      <button onClick={() => (barError.value = '')}>Dismiss</button>
    </div>
  );
}

function ViewingRow({ rec }: { rec: RecordingView }) {
  const replay = replayState.value;
  const running = replay.state === 'running';
  return (
    <div class="recbar-row">
      <span class="rec-badge">Recording</span>
      <b class="rec-name" title={rec.name}>
        {rec.name}
      </b>
      <span class="muted">
        {plural(rec.events.length, 'event')}, {plural(rec.connections, 'connection')}
        {rec.badLines > 0 && <span class="warn">, {plural(rec.badLines, 'line')} skipped</span>}
      </span>
      <span class="muted rec-paused">live capture paused</span>
      <span class="recbar-spacer" />
      <button
        onClick={() => void replayRecording().then(() => (reportOpen.value = true))}
        disabled={running || rec.events.length === 0}
        title="Send each recorded client's messages again, through the wiretap, to the server that runs now; wait for each reply and compare it with the recorded one"
      >
        {running ? 'Replaying…' : 'Replay client side against the current server'}
      </button>
      {(replay.state === 'done' || replay.state === 'failed') && !running && (
        <button class="link-button" onClick={() => (reportOpen.value = true)}>
          last report
        </button>
      )}
      <OpenButton label="Open another…" />
      <button class="primary" onClick={backToLive} title="Leave the recording: the views show the live capture again">
        Back to live
      </button>
    </div>
  );
}

function Scrubber({ rec }: { rec: RecordingView }) {
  const t = scrubTime.value;
  const isPlaying = playing.value;
  return (
    <div class="recbar-row scrubber">
      <button class="play" aria-label={isPlaying ? 'Pause' : 'Play'} title={isPlaying ? 'Pause' : 'Play the recording (gaps over a second are shortened)'} onClick={() => (isPlaying ? stopPlaying() : play())}>
        {isPlaying ? '❚❚' : '▶'}
      </button>
      <input
        type="range"
        aria-label="Time in the recording"
        min={rec.first}
        max={rec.last}
        step="any"
        value={t}
        disabled={rec.events.length === 0}
        onInput={(e) => {
          stopPlaying();
          scrubTo(Number((e.currentTarget as HTMLInputElement).value));
        }}
      />
      <span class="mono scrub-time" aria-live="off">
        {seconds(t)} <span class="muted">of {seconds(rec.last)}</span>
      </span>
      <span class="muted scrub-count" role="status">
        {shownEvents.value.toLocaleString('en-US')} of {plural(rec.events.length, 'event')}
      </span>
      <select aria-label="Playback speed" value={playSpeed.value} onChange={(e) => (playSpeed.value = Number((e.currentTarget as HTMLSelectElement).value))}>
        {[1, 10, 100].map((s) => (
          <option value={s}>{s}×</option>
        ))}
      </select>
    </div>
  );
}

const SHOWN_ERRORS = 5;

function ReadErrors({ rec }: { rec: RecordingView }) {
  // rec.errors holds the first few bad lines of each kind; rec.badLines counts them all.
  const shown = rec.errors.slice(0, SHOWN_ERRORS);
  return (
    <div class="rec-errors" role="alert">
      <p>
        {plural(rec.badLines, 'line')} of {rec.name} could not be read and {rec.badLines === 1 ? 'was' : 'were'} skipped; the other{' '}
        {plural(rec.events.length, 'event')} are shown.
      </p>
      <ul>
        {shown.map((e) => (
          <li>{e.message}</li>
        ))}
        {rec.badLines > shown.length && <li class="muted">and {plural(rec.badLines - shown.length, 'more line')}</li>}
      </ul>
    </div>
  );
}

function Answers({ answers, differ, label }: { answers: Answer[]; differ: number[]; label: string }) {
  if (answers.length === 0) return <span class="muted">{label}</span>;
  return (
    <ol class="answers">
      {answers.map((a, i) => (
        <li class={differ.includes(i) ? 'differs' : ''} title={a.kind === 'text' ? a.text : undefined}>
          {a.summary}
        </li>
      ))}
    </ol>
  );
}

const STATUS_LABEL: Record<StepReport['status'], string> = { same: 'same', different: 'different', 'not-sent': 'not sent' };

function StepRows({ step }: { step: StepReport }) {
  const notes = step.differences.length > 0 || step.note;
  return (
    <>
      <tr class={`step ${step.status}`} data-status={step.status}>
        <td class="num">{step.index}</td>
        <td class="mono">{step.sent.summary}</td>
        <td class="mono">
          <Answers answers={step.expected} differ={step.differentAnswers} label="no answer" />
        </td>
        <td class="mono">
          <Answers answers={step.got} differ={step.differentAnswers} label={step.status === 'not-sent' ? '—' : 'no answer'} />
        </td>
        <td>
          <span class={`pill ${step.status}`}>{STATUS_LABEL[step.status]}</span>
        </td>
      </tr>
      {notes && (
        <tr class={`step-notes ${step.status}`}>
          <td />
          <td colSpan={4}>
            {step.differences.map((d) => (
              <div>{d}</div>
            ))}
            {step.note && <div class="muted">{step.note}</div>}
          </td>
        </tr>
      )}
    </>
  );
}

const CONN_LABEL: Record<ConnectionReport['status'], string> = { same: 'same', different: 'different', skipped: 'skipped', failed: 'failed' };

function ConnectionSection({ c }: { c: ConnectionReport }) {
  return (
    <section class="replay-conn" aria-label={`Connection #${c.conn}`}>
      <h3>
        Connection #{c.conn} <span class="mono">{c.request}</span> <span class={`pill ${c.status}`}>{CONN_LABEL[c.status]}</span>
        {c.replayedAs !== null && (
          <button class="link-button" onClick={() => showLiveConnection(c.replayedAs!)} title="Back to live, showing this replay's connection">
            replayed as #{c.replayedAs}
          </button>
        )}
      </h3>
      {c.note && <p class="muted">{c.note}</p>}
      {c.steps.length > 0 && (
        <table class="replay-steps">
          <thead>
            <tr>
              <th class="num">Step</th>
              <th>Client sent</th>
              <th>Recorded answers</th>
              <th>Answers now</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {c.steps.map((s) => (
              <StepRows step={s} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Report({ report, name }: { report: ReplayResponse; name: string }) {
  const t = report.totals;
  return (
    <>
      <p class={`replay-summary ${report.same ? 'same' : 'different'}`} role="status">
        {report.same
          ? `Same answers: all ${plural(t.steps, 'step')} of ${plural(t.connections, 'connection')} got the recorded answers.`
          : `${plural(t.different, 'step')} of ${t.steps} answered differently${t.notSent ? `, ${t.notSent} could not be sent` : ''}; ${t.same} the same.`}
      </p>
      <p class="muted">
        Replayed {name} through the wiretap at {report.target}, one connection after another, waiting for each reply as recorded. {report.masking}
      </p>
      {report.errors.length > 0 && (
        <p class="warn">
          Skipped {plural(report.badLines, 'unreadable line')}: {report.errors.slice(0, 3).map((e) => e.message).join('; ')}
          {report.badLines > 3 ? '; …' : ''}
        </p>
      )}
      {report.connections.map((c) => (
        <ConnectionSection c={c} />
      ))}
    </>
  );
}

function ReplayDialog() {
  const ref = useRef<HTMLDialogElement>(null);
  const open = reportOpen.value;
  const state = replayState.value;
  const rec = recording.value;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const shown = open && (state.state === 'done' || state.state === 'failed');
  return (
    <dialog ref={ref} class="replay-dialog" aria-labelledby="replay-title" onClose={() => (reportOpen.value = false)}>
      <header>
        <h2 id="replay-title">Replay against the current server</h2>
        <button class="close" aria-label="Close the report" onClick={() => (reportOpen.value = false)}>
          ×
        </button>
      </header>
      <div class="replay-body">
        {shown && state.state === 'failed' && (
          <p class="replay-summary different" role="alert">
            The replay failed: {state.error}
          </p>
        )}
        {shown && state.state === 'done' && <Report report={state.report} name={rec?.name ?? 'the recording'} />}
      </div>
      <footer>
        <button onClick={() => (reportOpen.value = false)}>Close</button>
        <button
          class="primary"
          onClick={() => {
            reportOpen.value = false;
            backToLive();
          }}
          title="The replay went through the wiretap: its connections are in the live capture"
        >
          Back to live to inspect the replay
        </button>
      </footer>
    </dialog>
  );
}

/**
 * The bar under the header while a recording is on view (nothing otherwise, but the replay
 * report's dialog, which stays open after going back to live).
 */
export function RecordingBar() {
  const rec = recording.value;
  const error = barError.value;
  return (
    <>
      {rec && (
        <section class="recbar viewing" aria-label="Recording">
          <ViewingRow rec={rec} />
          <Scrubber rec={rec} />
          {rec.errors.length > 0 && <ReadErrors rec={rec} />}
          {error && (
            <p class="recbar-error" role="alert">
              {error}
            </p>
          )}
        </section>
      )}
      <ReplayDialog />
    </>
  );
}
