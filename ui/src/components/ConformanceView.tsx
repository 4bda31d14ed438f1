import { useEffect, useState } from 'preact/hooks';
import type { ConformanceCase, ConformanceResult, ConformanceState } from '../../../server/app/conformance-protocol.ts';
import { GROUP_TITLES, VERDICTS, type CaseGroup, type Verdict } from '../../../server/conformance/types.ts';
import type { FrameEvent } from '../../../server/capture/events.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { autoOpened, ladder, ladderError, markedBytes, openCase, pollLadder, setRerunOnSave, startLadder, stopLadder } from '../conformance.ts';
import { activeWorkspace, detailTab, frameKey, model, selectedConn, selection, version } from '../state.ts';
import { plural } from '../lib/plural.ts';
import '../conformance.css';

/**
 * The conformance ladder: the suite's cases (server/conformance/) run against the learner's
 * server.js through the wiretap, group by group as rungs. A rung whose cases all passed folds
 * away; the first failing case opens with what it sent, what a conforming server must do (the
 * RFC's sentence), what this one did and a hint, and its frame opens in Frame anatomy with the
 * offending bytes marked. A save of server.js runs the ladder again.
 */

const VERDICT_CLASS: Record<Verdict, string> = {
  PASS: 'v-pass',
  'NON-STRICT': 'v-nonstrict',
  FAIL: 'v-fail',
  INFORMATIONAL: 'v-info',
  UNIMPLEMENTED: 'v-unimpl',
};

/** Frames of a case listed under it; a case of group 9 sends thousands, the rest are in the Timeline. */
const FRAMES_LISTED = 24;

function VerdictBadge({ v }: { v: Verdict }) {
  return <span class={`cverdict ${VERDICT_CLASS[v]}`}>{v}</span>;
}

function counts(results: ConformanceResult[]): Map<Verdict, number> {
  const out = new Map<Verdict, number>();
  for (const r of results) out.set(r.verdict, (out.get(r.verdict) ?? 0) + 1);
  return out;
}

function Counts({ results, of }: { results: ConformanceResult[]; of: number }) {
  const c = counts(results);
  return (
    <span class="ladder-counts">
      {VERDICTS.filter((v) => c.has(v)).map((v) => (
        <span class={`count ${VERDICT_CLASS[v]}`} title={`${c.get(v)} ${v}`}>
          {c.get(v)} {v}
        </span>
      ))}
      {results.length < of && <span class="count muted">{of - results.length} to run</span>}
    </span>
  );
}

/**
 * The frame a case is about: the one `offending` names (a frame the server should have
 * rejected); else the server's first frame (an echo case: its answer, greeting or wrong echo, is
 * what went wrong); else the runner's first.
 */
function frameOf(r: ConformanceResult): FrameEvent | null {
  if (r.conn === undefined) return null;
  if (r.offending?.frameSeq !== undefined) return model.framesByKey.get(frameKey(r.conn, r.offending.dir, r.offending.frameSeq)) ?? null;
  return model.framesByKey.get(frameKey(r.conn, 'server', 0)) ?? model.framesByKey.get(frameKey(r.conn, 'client', 0)) ?? null;
}

function framesOf(conn: number): FrameEvent[] {
  const out: FrameEvent[] = [];
  const frames = model.frames;
  for (let i = 0; i < frames.length; i++) {
    // By the log's connection column: only the connection's own frames are made.
    if (model.events.conn(frames.abs(i)) !== conn) continue;
    out.push(frames.at(i)!);
    if (out.length > FRAMES_LISTED) break;
  }
  return out;
}

/** Open a frame of a case in Frame anatomy, its offending bytes marked when it is the case's own. */
function showFrame(f: FrameEvent, r: ConformanceResult): void {
  const key = frameKey(f.conn, f.dir, f.seq);
  const own = r.offending ? r.offending.frameSeq === f.seq && r.offending.dir === f.dir : frameOf(r) === f;
  markedBytes.value = { key, at: own ? (r.offending?.byteOffset ?? null) : null, caseId: r.id, own };
  selection.value = { kind: 'frame', key };
  selectedConn.value = f.conn;
  detailTab.value = 'frame';
}

function frameLabel(f: FrameEvent): string {
  const flags = [f.fin ? '' : 'FIN=0', f.rsv1 ? 'RSV1' : '', f.rsv2 ? 'RSV2' : '', f.rsv3 ? 'RSV3' : ''].filter(Boolean).join(' ');
  return `${f.dir === 'client' ? '→' : '←'} ${opcodeName(f.opcode)}${flags ? ` ${flags}` : ''} ${f.length.toLocaleString('en-US')} B`;
}

function closeText(r: ConformanceResult): string {
  const b = r.behaviorClose;
  const code = (c: number | null | undefined) => (c === undefined ? 'no close frame' : c === null ? 'a close frame without code' : `close ${c}`);
  const who = b.closedBy === 'none' ? 'nobody closed' : `the ${b.closedBy} closed first`;
  return `${who}, ${b.clean ? 'cleanly' : 'not cleanly'}: client sent ${code(b.clientCode)}, server sent ${code(b.serverCode)}; TCP ended by ${b.droppedBy === 'none' ? 'the runner (time out)' : `the ${b.droppedBy}`}.`;
}

function CaseDetail({ c, r }: { c: ConformanceCase; r: ConformanceResult }) {
  version.value;
  const frames = r.conn !== undefined ? framesOf(r.conn) : [];
  const own = frameOf(r);
  return (
    <div class="case-detail" role="region" aria-label={`Case ${c.id}`}>
      <dl>
        <div>
          <dt>Sent</dt>
          <dd>{c.description}</dd>
        </div>
        <div>
          <dt>Expected</dt>
          <dd>{c.expectation}</dd>
        </div>
        <div>
          <dt>Your server</dt>
          <dd class={r.verdict === 'FAIL' ? 'bad-text' : undefined}>{r.observed}</dd>
        </div>
        <div>
          <dt>Close</dt>
          <dd>
            {closeText(r)} <span class="muted">{r.behaviorClose.why}</span>
          </dd>
        </div>
        {r.verdict === 'NON-STRICT' && r.nonStrictWhy && (
          <div>
            <dt>Why NON-STRICT</dt>
            <dd>{r.nonStrictWhy}</dd>
          </div>
        )}
      </dl>
      <blockquote class="rfc-must">
        <p>{c.rfc.must}</p>
        <cite>{c.rfc.section}</cite>
      </blockquote>
      {r.verdict !== 'PASS' && (
        <p class="case-hint">
          <b>Hint:</b> {c.hint}
        </p>
      )}
      <div class="case-frames">
        {r.conn === undefined ? (
          <span class="muted">{r.localPort === undefined ? 'No TCP connection was made for this case.' : 'Its connection is not in the inspector yet.'}</span>
        ) : (
          <>
            <span>
              Connection #{r.conn}
              {frames.length === 0 ? ': no frames in view.' : ':'}
            </span>
            {frames.slice(0, FRAMES_LISTED).map((f) => {
              const isOwn = own === f;
              return (
                <button type="button" class={`frame-chip ${f.dir}${isOwn ? ' own' : ''}`} onClick={() => showFrame(f, r)} title={isOwn ? 'The frame this case is about: open it in Frame anatomy' : 'Open in Frame anatomy'}>
                  {frameLabel(f)}
                  {isOwn ? ' ✗' : ''}
                </button>
              );
            })}
            {frames.length > FRAMES_LISTED && <span class="muted">more in the Timeline (filter #{r.conn})</span>}
          </>
        )}
      </div>
    </div>
  );
}

function CaseRow({ c, r }: { c: ConformanceCase; r: ConformanceResult }) {
  const open = openCase.value === c.id;
  return (
    <li id={`case-${c.id}`} class={`case ${VERDICT_CLASS[r.verdict]}${open ? ' open' : ''}`}>
      <button type="button" class="case-head" aria-expanded={open} onClick={() => (openCase.value = open ? null : c.id)}>
        <span class="case-id">{c.id}</span>
        <VerdictBadge v={r.verdict} />
        <span class="case-title">{c.title}</span>
        <span class="case-observed">{r.observed}</span>
      </button>
      {open && <CaseDetail c={c} r={r} />}
    </li>
  );
}

function Rung({ group, cases, results, running, current }: { group: CaseGroup; cases: ConformanceCase[]; results: Map<string, ConformanceResult>; running: boolean; current: string | null }) {
  const [showPassed, setShowPassed] = useState(false);
  const done = cases.map((c) => results.get(c.id)).filter((r): r is ConformanceResult => r !== undefined);
  const failed = done.some((r) => r.verdict === 'FAIL');
  const complete = done.length === cases.length;
  const state = failed ? 'fail' : complete ? 'pass' : done.length > 0 || cases.some((c) => c.id === current) ? 'running' : 'pending';
  // A passed case stays in sight while it is open (the crash note opens the case server.js died in).
  const notPassed = cases.filter((c) => {
    const r = results.get(c.id);
    return r && (r.verdict !== 'PASS' || (openCase.value === c.id && !showPassed));
  });
  const passed = done.filter((r) => r.verdict === 'PASS').length;
  return (
    <section class={`rung rung-${state}`} aria-label={`Group ${group}: ${GROUP_TITLES[group]}`}>
      <h3 class="rung-head">
        <span class="rung-mark" aria-hidden="true">
          {state === 'pass' ? '✓' : state === 'fail' ? '✗' : state === 'running' ? '…' : '·'}
        </span>
        <span class="rung-name">
          {group} · {GROUP_TITLES[group]}
        </span>
        <Counts results={done} of={cases.length} />
      </h3>
      {state === 'running' && running && current && cases.some((c) => c.id === current) && <p class="muted rung-now">running {current}…</p>}
      {notPassed.length > 0 && (
        <ul class="cases">
          {notPassed.map((c) => (
            <CaseRow c={c} r={results.get(c.id)!} />
          ))}
        </ul>
      )}
      {passed > 0 && (
        <>
          <button type="button" class="link-btn passed-toggle" aria-expanded={showPassed} onClick={() => setShowPassed(!showPassed)}>
            {showPassed ? 'fold' : 'show'} {plural(passed, 'passed case')}
          </button>
          {showPassed && (
            <ul class="cases">
              {cases
                .filter((c) => results.get(c.id)?.verdict === 'PASS')
                .map((c) => (
                  <CaseRow c={c} r={results.get(c.id)!} />
                ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

/** Open a case, show it, and its frame in Frame anatomy. */
function openWithFrame(s: ConformanceState, id: string): void {
  openCase.value = id;
  const r = s.results.find((x) => x.id === id);
  const f = r ? frameOf(r) : null;
  if (r && f) showFrame(f, r);
  requestAnimationFrame(() => document.getElementById(`case-${id}`)?.scrollIntoView({ block: 'nearest' }));
}

/** The first failing case of the run opens once, with its frame in Frame anatomy. */
function useFirstFailure(s: ConformanceState | null): void {
  version.value;
  useEffect(() => {
    if (!s || s.run === 0 || autoOpened.peek() === s.run) return;
    const first = s.results.find((r) => r.verdict === 'FAIL');
    if (!first) return;
    const f = frameOf(first);
    // Wait for its frames to reach the page (the wiretap's events come on the stream), unless it has none.
    if (!f && first.conn === undefined && first.localPort !== undefined && s.status === 'running') return;
    autoOpened.value = s.run;
    openCase.value = first.id;
    if (f) showFrame(f, first);
  });
}

export function ConformanceView() {
  const s = ladder.value;
  const [spec, setSpec] = useState('1-7');
  useEffect(() => pollLadder(), []);
  useEffect(() => {
    if (!s || s.run === 0) return;
    if (s.spec) setSpec(s.spec);
    // A new run (a save, Run again): the case and frame open were the last run's.
    openCase.value = null;
    markedBytes.value = null;
  }, [s?.run]);
  useFirstFailure(s);
  const running = s?.status === 'running';
  const results = new Map((s?.results ?? []).map((r) => [r.id, r]));
  const groups: CaseGroup[] = [];
  for (const c of s?.cases ?? []) if (!groups.includes(c.group)) groups.push(c.group);
  const current = running && s ? (s.cases[s.results.length]?.id ?? null) : null;
  const failed = s?.results.filter((r) => r.verdict === 'FAIL').length ?? 0;
  const playground = activeWorkspace.value !== null;
  return (
    <div class="ladder" aria-label="Conformance ladder">
      <form
        class="ladder-bar"
        onSubmit={(e) => {
          e.preventDefault();
          void startLadder(spec, s?.rerunOnSave ?? true);
        }}
      >
        <label>
          Cases{' '}
          <input id="ladder-cases" type="text" value={spec} size={10} spellcheck={false} onInput={(e) => setSpec((e.target as HTMLInputElement).value)} aria-describedby="ladder-cases-help" />
        </label>
        <button type="submit" class="primary">
          {s && s.run > 0 ? 'Run again' : 'Run the ladder'}
        </button>
        {running && (
          <button type="button" onClick={() => void stopLadder()}>
            Stop
          </button>
        )}
        {playground && (
          <label class="rerun">
            <input type="checkbox" checked={s?.rerunOnSave ?? true} onChange={(e) => void setRerunOnSave((e.target as HTMLInputElement).checked)} /> re-run when server.js is saved
          </label>
        )}
        <span id="ladder-cases-help" class="muted small">
          groups and cases as Autobahn numbers them: 1-7, 5.*, 6.4.1
        </span>
      </form>
      <p class="ladder-status" role="status" aria-live="polite">
        {!s || s.run === 0
          ? `Runs the suite's cases against ${playground ? 'your server.js' : 'the tapped server'}, one connection per case, through the wiretap: every case's frames are in the Timeline.`
          : running
            ? `${s.trigger === 'save' ? 'server.js was saved: running again. ' : ''}Running case ${current ?? '…'}: ${s.results.length} of ${s.cases.length} done${failed ? `, ${failed} failed` : ''}.`
            : s.status === 'done'
              ? failed === 0
                ? `All ${plural(s.cases.length, 'case')} run: no FAIL. ${playground ? 'Your server.js is up the ladder.' : ''}`
                : `${failed} of ${plural(s.cases.length, 'case')} failed. The first one is open below, its frame in Frame anatomy.${playground && s.rerunOnSave ? ' Fix server.js and save: the ladder runs again.' : ''}`
              : s.status === 'stopped'
                ? `Stopped after ${plural(s.results.length, 'case')} of ${s.cases.length}.`
                : s.error ?? 'The run stopped.'}
      </p>
      {s?.crash && (
        <p class="note ladder-crash" role="alert">
          <b>server.js {s.crash.caseId ? `crashed during case ${s.crash.caseId}` : 'crashed'}</b>: every case after it met no server. {s.crash.message}{' '}
          {s.crash.caseId && (
            <button type="button" class="link-btn" onClick={() => openWithFrame(s, s.crash!.caseId!)}>
              open case {s.crash.caseId}
            </button>
          )}
        </p>
      )}
      {ladderError.value && (
        <p class="bad-text" role="alert">
          {ladderError.value}
        </p>
      )}
      {s && s.run > 0 && (
        <div class="rungs">
          {groups.map((g) => (
            <Rung key={`${s.run}-${g}`} group={g} cases={s.cases.filter((c) => c.group === g)} results={results} running={running} current={current} />
          ))}
        </div>
      )}
    </div>
  );
}
