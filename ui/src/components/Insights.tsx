import { signal } from '@preact/signals';
import type { Direction, InsightEvent } from '../../../server/capture/events.ts';
import { INSIGHT_RULES } from '../../../server/insights/rules.ts';
import { openLesson, openLessonId } from '../lessons.ts';
import { activeWorkspace, centerView, detailTab, frameKey, model, selectedConn, selection, version, type FrameKey, type MessageRow } from '../state.ts';
import '../insights.css';

/**
 * Insights (server/insights/): what the learner's programs got wrong, read off the wire. Marks on
 * the frames they cite (InsightBadge, in the Timeline; the sequence diagram marks its arrows
 * itself from `insightsOfFrame`) and the list under the header (InsightsBar), each linking to
 * the frames it cites and to the lesson that teaches it.
 */

const listOpen = signal(false);

/** The insights citing one frame. */
export function insightsOfFrame(key: FrameKey): InsightEvent[] {
  return model.insightsByFrame.get(key) ?? [];
}

/** The insights citing a message row's first frame (message mode's rows). */
export function insightsOfRow(row: MessageRow): InsightEvent[] {
  return insightsOfFrame(frameKey(row.conn, row.dir, row.type === 'message' ? row.firstFrame : row.frame));
}

export const insightTitle = (i: InsightEvent): string => INSIGHT_RULES[i.rule]?.title ?? i.rule;

/** The Timeline's mark: a badge with the first insight's title; the tooltip has every message. */
export function InsightBadge({ list }: { list: InsightEvent[] }) {
  if (list.length === 0) return null;
  const worst = list.some((i) => i.severity === 'error') ? 'error' : 'warning';
  return (
    <span class={`badge insight sev-${worst}`} data-rule={list[0]!.rule} title={list.map((i) => `⚠ ${insightTitle(i)}: ${i.message}`).join('\n\n')}>
      ⚠ {INSIGHT_RULES[list[0]!.rule]?.short ?? list[0]!.rule}
      {list.length > 1 ? ` +${list.length - 1}` : ''}
    </span>
  );
}

/** The first frame an insight cites, client side first (the cause usually is the client's). */
function firstCited(i: InsightEvent): { dir: Direction; seq: number } | null {
  for (const dir of ['client', 'server'] as const) {
    const seq = i.frames[dir][0];
    if (seq !== undefined) return { dir, seq };
  }
  return null;
}

/** Show what an insight cites: its first frame in the Timeline and its anatomy, or its handshake. */
export function showInsight(i: InsightEvent): void {
  const at = firstCited(i);
  selectedConn.value = i.conn;
  if (at) {
    selection.value = { kind: 'frame', key: frameKey(i.conn, at.dir, at.seq) };
    centerView.value = 'timeline';
    detailTab.value = 'frame';
  } else {
    selection.value = { kind: 'handshake', conn: i.conn };
    detailTab.value = 'handshake';
  }
}

function LessonLink({ lesson }: { lesson: string }) {
  const info = Object.values(INSIGHT_RULES).find((r) => r.lesson === lesson);
  const title = info?.lessonTitle ?? `Lesson ${lesson}`;
  // Lessons need the playground (wsplay start); under wsplay tap the title says where to look.
  if (activeWorkspace.value === null) return <span class="insight-lesson">{title} (in the playground: npm start)</span>;
  const open = openLessonId() === lesson;
  return (
    <button
      class="link-btn insight-lesson"
      title={open ? 'Show the lesson' : 'Open the lesson: its files in the editor, its server.js running'}
      onClick={() => {
        detailTab.value = 'lesson';
        if (!open) void openLesson(lesson);
      }}
    >
      {title}
    </button>
  );
}

function citedText(i: InsightEvent): string {
  const parts: string[] = [];
  for (const dir of ['client', 'server'] as const) {
    const seqs = i.frames[dir];
    if (seqs.length > 0) parts.push(`${dir} frame${seqs.length === 1 ? '' : 's'} ${seqs.map((s) => `#${s}`).join(', ')}`);
  }
  if (i.conns && i.conns.length > 0) parts.push(`connections ${i.conns.map((c) => `#${c}`).join(', ')}`);
  return parts.length > 0 ? parts.join(', ') : 'the handshake';
}

/** Under the header while there is at least one insight: the count, and the list on demand. */
export function InsightsBar() {
  version.value;
  const list = model.insights;
  if (list.length === 0) return null;
  const errors = list.filter((i) => i.severity === 'error').length;
  const open = listOpen.value;
  const latest = list.at(-1)!;
  return (
    <section class="insights-bar" aria-label="Insights">
      <div class="insights-head">
        <button class="insights-toggle" aria-expanded={open} aria-controls="insights-list" onClick={() => (listOpen.value = !open)}>
          <span class={`insights-count sev-${errors > 0 ? 'error' : 'warning'}`}>⚠ {list.length + model.insightsTrimmed}</span>{' '}
          {list.length + model.insightsTrimmed === 1 ? 'insight' : 'insights'}: what the programs got wrong
          <span class="insights-chevron" aria-hidden="true">
            {open ? '▾' : '▸'}
          </span>
        </button>
        {!open && (
          <span class="insights-latest">
            latest: <b>{insightTitle(latest)}</b> on #{latest.conn}
          </span>
        )}
      </div>
      {open && (
        <ol class="insights-list" id="insights-list">
          {model.insightsTrimmed > 0 && <li class="muted">{model.insightsTrimmed.toLocaleString('en-US')} older insights are no longer listed.</li>}
          {list.map((i, n) => (
            <li class={`insight-item sev-${i.severity}`} key={n} data-rule={i.rule} data-conn={i.conn}>
              <div class="insight-line">
                <span class={`badge insight sev-${i.severity}`}>{i.severity === 'error' ? '⚠ error' : '⚠ warning'}</span>
                <b>{insightTitle(i)}</b>
                <span class="muted">on #{i.conn}</span>
                <button class="link-btn" title="Select what it cites in the Timeline and the detail panel" onClick={() => showInsight(i)}>
                  show {citedText(i)}
                </button>
                <LessonLink lesson={i.lesson} />
              </div>
              <p class="insight-message">{i.message}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
