import { useEffect, useState } from 'preact/hooks';
import { compareGoal, describeArrow, flatArrows, type CheckGoal, type Goal, type GoalResult } from '../../../lessons/harness/goal.ts';
import { checkState, goalFromConn, lessonDoc } from '../lessons.ts';
import { centerView, detailTab, frameKey, model, selectedConn, selection, version, wiretapNow } from '../state.ts';
import type { WireEvent } from '../../../server/capture/events.ts';

/** The comparison reads at most this many of the run's latest events per render. */
const READ_WINDOW = 5000;
const ROW = 26;
const TOP = 30;
const LEFT = 26;
const WIDTH = 400;

/**
 * A lesson's goal: the conversation the learner's code should have, drawn as a compact sequence
 * diagram (the peers' lanes and the server's, one arrow per message, ping, pong or close), and,
 * over the learner's latest run, which arrows the wire already shows (✓), and the first one where
 * it differs (✗, in red, with what came instead). The comparison is lessons/harness/goal.ts.
 */
export function GoalDiagram({ goal }: { goal: Goal }) {
  version.value;
  const [, tick] = useState(0);
  // After a Check: the check's own run, compared by the check (its wiretap is not this page's).
  const cs = checkState.value;
  const checked = cs.result && cs.lesson === lessonDoc.value?.id && cs.result.goal ? cs.result : null;
  const [showCheck, setShowCheck] = useState(true);
  // A new check result is shown, even after the learner went back to their own runs.
  useEffect(() => setShowCheck(true), [checked?.at]);
  const fromCheck = checked && showCheck ? checked.goal! : null;
  const from = goalFromConn();
  let r: GoalResult;
  if (fromCheck) r = resultOfCheck(goal, fromCheck);
  else {
    // The newest READ_WINDOW events of its connections, found by the log's columns: only they are made.
    const log = model.events;
    const recent: WireEvent[] = [];
    for (let abs = log.base + log.length - 1; abs >= log.base && recent.length < READ_WINDOW; abs--) if (log.conn(abs) >= from) recent.push(log.get(abs)!);
    recent.reverse();
    r = compareGoal(goal, recent, { fromConn: from, now: wiretapNow() ?? undefined });
  }
  const open = !fromCheck && !r.empty && !r.complete && r.difference === null;
  // A missing arrow becomes a difference once the wire is quiet: look again while it may.
  useEffect(() => {
    if (!open) return;
    const t = setInterval(() => tick((n) => n + 1), 700);
    return () => clearInterval(t);
  }, [open]);

  const flat = flatArrows(goal);
  const lanes = [...goal.peers, 'server'];
  const laneX = (name: string) => {
    const i = Math.max(0, lanes.indexOf(name));
    return LEFT + 40 + (i * (WIDTH - LEFT - 80)) / Math.max(1, lanes.length - 1);
  };
  const height = TOP + flat.length * ROW + 10;
  return (
    <section class={fromCheck ? 'lp-goal from-check' : 'lp-goal'} aria-label={`Goal: ${goal.title}`}>
      <h4 class="lp-goal-head">Goal · {goal.title}</h4>
      {checked && (
        <p class="lp-goal-source">
          {fromCheck ? (
            <>
              <b>From the check's run</b> ({fromCheck.run}) ·{' '}
              <button class="link-button" onClick={() => setShowCheck(false)}>
                show your own runs
              </button>
            </>
          ) : (
            <>
              From your own runs ·{' '}
              <button class="link-button" onClick={() => setShowCheck(true)}>
                show the check's run
              </button>
            </>
          )}
        </p>
      )}
      <svg class="lp-goal-svg" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`The expected conversation, ${flat.length} arrows`}>
        <defs>
          {(['ok', 'differs', 'waiting', 'unchecked'] as const).map((s) => (
            <marker id={`lp-goal-head-${s}`} viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L8,4 L0,8 z" class={`lp-goal-marker ${s}`} />
            </marker>
          ))}
        </defs>
        {lanes.map((name) => (
          <g class="lp-goal-lane">
            <text x={laneX(name)} y={14} text-anchor="middle" class="lp-goal-lane-name">
              {name}
              {r.peers[name] !== undefined ? ` #${r.peers[name]}` : ''}
            </text>
            <line x1={laneX(name)} x2={laneX(name)} y1={20} y2={height - 4} />
          </g>
        ))}
        {flat.map((f, i) => {
          const a = f.arrow;
          const state = r.arrows[i]?.state ?? 'unchecked';
          const y = TOP + i * ROW + 14;
          const x1 = laneX(a.from === 'other' ? goal.peers[goal.peers.length - 1]! : a.from);
          const x2 = laneX(a.to === 'other' ? goal.peers[goal.peers.length - 1]! : a.to);
          const label = a.label ?? describeArrow(a);
          const count = r.arrows[i]?.count;
          const icon = state === 'ok' ? '✓' : state === 'differs' ? '✗' : a.never ? '⊘' : '·';
          const title = `${a.from} → ${a.to}: ${label}${a.never ? ' (must not happen)' : ''}${f.repeatMin ? ` (${f.repeatMin} times or more)` : ''}`;
          return (
            <g class={`lp-goal-arrow ${state}${a.never ? ' never' : ''}`} data-state={state} data-index={i}>
              <title>{title}</title>
              {state === 'differs' && <rect x={2} y={y - 17} width={WIDTH - 4} height={ROW - 2} rx={4} class="lp-goal-diffbg" />}
              <text x={10} y={y + 1} text-anchor="middle" class="lp-goal-icon">
                {icon}
              </text>
              <line x1={x1} x2={x2} y1={y} y2={y} marker-end={`url(#lp-goal-head-${state})`} />
              <text x={(x1 + x2) / 2} y={y - 4} text-anchor="middle" class="lp-goal-label">
                {a.never ? `✗ ${label}` : label.length > 44 ? `${label.slice(0, 43)}…` : label}
              </text>
              {f.repeatMin !== undefined && (
                <text x={WIDTH - 4} y={y + 1} text-anchor="end" class="lp-goal-repeat">
                  {count ? (count >= f.repeatMin ? `×${count}` : `×${count} of ${f.repeatMin}`) : `×${f.repeatMin}+`}
                </text>
              )}
              {f.group !== undefined && i > 0 && flat[i - 1]!.group === f.group && (
                <text x={WIDTH - 4} y={y - 12} text-anchor="end" class="lp-goal-repeat">
                  any order
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <GoalVerdict goal={goal} r={r} from={from} whose={fromCheck ? "The check's run" : 'Your run'} />
      {fromCheck && checked && !checked.ok && (() => {
        const failed = checked.checks.find((c) => c.state === 'fail');
        return failed ? (
          <p class="lp-goal-verdict lp-goal-check">
            <b>The check says:</b> Not yet: {failed.name}
          </p>
        ) : null;
      })()}
      {goal.note && <p class="muted lp-goal-note">{goal.note}</p>}
    </section>
  );
}

/** The check's comparison as a GoalResult the diagram draws (no wire arrows: nothing to click into). */
function resultOfCheck(goal: Goal, c: CheckGoal): GoalResult {
  const n = flatArrows(goal).length;
  const arrows: GoalResult['arrows'] = Array.from({ length: n }, (_, i) => {
    const a = c.arrows[i];
    return a ? { state: a.state, ...(a.count !== undefined ? { count: a.count } : {}) } : { state: 'unchecked' as const };
  });
  const d = c.difference && c.difference.index < n ? c.difference : null;
  return { peers: c.peers, arrows, difference: d, complete: c.complete, empty: false };
}

function GoalVerdict({ goal, r, from, whose }: { goal: Goal; r: GoalResult; from: number; whose: string }) {
  const d = r.difference;
  if (r.empty) {
    return (
      <p class="lp-goal-verdict muted" role="status">
        Run your code (▶ Run in the Code tab): the diagram compares the run's connections{from > 1 ? `, from #${from}` : ''}.
      </p>
    );
  }
  if (d) {
    const w = d.wire;
    return (
      <p class="lp-goal-verdict bad" role="status">
        <b>✗ First difference, arrow {d.index + 1}:</b> the goal has <i>{d.expected}</i>; the wire has {d.got}.
        {w && w.frame !== undefined && w.dir !== 'wiretap' && (
          <>
            {' '}
            <button
              class="link-button"
              onClick={() => {
                selection.value = { kind: 'frame', key: frameKey(w.conn, w.dir as 'client' | 'server', w.frame!) };
                selectedConn.value = w.conn;
                detailTab.value = 'frame';
                if (centerView.value === 'editor' || centerView.value === 'break') centerView.value = 'timeline';
              }}
            >
              show #{w.conn} frame {w.frame}
            </button>
          </>
        )}
      </p>
    );
  }
  if (r.complete) {
    return (
      <p class="lp-goal-verdict good" role="status">
        ✓ {whose} follows the goal, arrow for arrow{goal.match === 'subsequence' ? ' (other messages between them are fine)' : ''}.
      </p>
    );
  }
  const next = r.arrows.findIndex((a) => a.state === 'waiting');
  return (
    <p class="lp-goal-verdict muted" role="status">
      So far so good{next >= 0 ? `: waiting for arrow ${next + 1}` : ''}…
    </p>
  );
}
