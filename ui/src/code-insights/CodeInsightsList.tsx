import { signal } from '@preact/signals';
import { useState } from 'preact/hooks';
import { openLesson, openLessonId } from '../lessons.ts';
import { activeWorkspace, centerView, detailTab, frameKey, selectedConn, selection } from '../state.ts';
import type { CodeInsight } from './analyze.ts';
import { CODE_RULES } from './rules.ts';
import { applyFix, CODE_FILES, codeInsights, evidenceFor, evidenceVersion, type CodeFile, type FrameRef } from './store.ts';
import '../insights.css';
import './code-insights.css';

/**
 * The insights in the code as a list the learner can read and reach by keyboard, above the
 * editor: each finding's place (a button that shows it in the editor), its cause and way out,
 * its quick fix, its lesson, and once the code ran, the frames it caused.
 */

/** Closed at first: the squiggles are where the learner looks, the list is one click (or Enter) away. */
const open = signal(false);

function showFrame(f: FrameRef): void {
  selectedConn.value = f.conn;
  selection.value = { kind: 'frame', key: frameKey(f.conn, f.dir, f.seq) };
  centerView.value = 'timeline';
  detailTab.value = 'frame';
}

function showHandshake(conn: number): void {
  selectedConn.value = conn;
  selection.value = { kind: 'handshake', conn };
  detailTab.value = 'handshake';
}

function LessonLink({ lesson, title }: { lesson: string; title: string }) {
  // Lessons need the playground (wsplay start); under wsplay tap the title says where to look.
  if (activeWorkspace.value === null) return <span class="ci-lesson muted">{title}</span>;
  const isOpen = openLessonId() === lesson;
  return (
    <button
      class="link-btn ci-lesson"
      title={isOpen ? 'Show the lesson' : 'Open the lesson: its files in the editor, its server.js running'}
      onClick={() => {
        detailTab.value = 'lesson';
        if (!isOpen) void openLesson(lesson);
      }}
    >
      {title}
    </button>
  );
}

function Item({ file, i, onReveal }: { file: CodeFile; i: CodeInsight; onReveal: (line: number, column: number, file: CodeFile) => void }) {
  const info = CODE_RULES[i.rule];
  // Read here, not only in the list: a component re-renders for its own props and signals only.
  evidenceVersion.value;
  const ev = evidenceFor(file, i);
  const [refused, setRefused] = useState<string | null>(null);
  return (
    <li class={`insight-item ci-item sev-${i.severity}`} data-rule={i.rule} data-file={file}>
      <div class="insight-line ci-line">
        <span class={`badge insight sev-${i.severity}`}>{i.severity === 'error' ? '⚠ error' : '⚠ warning'}</span>
        <button class="pos-link" onClick={() => onReveal(i.start.line, i.start.column, file)} aria-label={`${file}:${i.start.line}, show it in the editor`}>
          {file}:{i.start.line}
        </button>
        <b>{info.title}</b>
        {i.fix && (
          <button
            class="ci-fix"
            title={`Quick fix (also Ctrl+. on the line): ${i.fix.title}`}
            onClick={() => setRefused(applyFix(file, i) ? null : `Not fixed: ${file} does not parse as it is now. Finish the line you are typing, then fix.`)}
          >
            Fix: {i.fix.label}
          </button>
        )}
        <LessonLink lesson={info.lesson} title={info.lessonTitle} />
      </div>
      {refused && (
        <p class="ci-refused" role="status">
          {refused}
        </p>
      )}
      <p class="ci-message">{i.message}</p>
      {ev && (
        <p class="ci-evidence">
          <span class="muted">Once run: </span>
          {ev.summary}
          {ev.frames.map((f) => (
            <button class="frame-link" onClick={() => showFrame(f)} aria-label={`Show ${f.dir} frame #${f.seq} of connection #${f.conn} in the inspector`}>
              → #{f.conn} <span class="muted">{f.dir} frame {f.seq}</span>
            </button>
          ))}
          {ev.frames.length === 0 && ev.wire && (
            <button class="frame-link" onClick={() => showHandshake(ev.wire!.conn)} aria-label={`Show the handshake of connection #${ev.wire.conn}`}>
              → #{ev.wire.conn} <span class="muted">handshake</span>
            </button>
          )}
        </p>
      )}
    </li>
  );
}

export function CodeInsightsList({ onReveal }: { onReveal: (line: number, column: number, file: CodeFile) => void }) {
  const all = codeInsights.value;
  evidenceVersion.value;
  const rows = CODE_FILES.flatMap((file) => (all[file]?.list ?? []).map((i) => ({ file, i })));
  const dropped = CODE_FILES.reduce((n, f) => n + (all[f]?.dropped ?? 0), 0);
  if (rows.length === 0) return null;
  const errors = rows.filter((r) => r.i.severity === 'error').length;
  const total = rows.length + dropped;
  const isOpen = open.value;
  const perFile = CODE_FILES.map((f) => [f, all[f]?.list.length ?? 0] as const).filter(([, n]) => n > 0);
  return (
    <section class="code-insights" aria-label="Insights in the code">
      <div class="ci-head">
        <button class="ci-toggle" aria-expanded={isOpen} aria-controls="ci-list" onClick={() => (open.value = !isOpen)}>
          <span class={`ci-count sev-${errors > 0 ? 'error' : 'warning'}`}>⚠ {total}</span> {total === 1 ? 'insight' : 'insights'} in the code
          <span class="muted"> ({perFile.map(([f, n]) => `${f} ${n}`).join(', ')})</span>
          <span class="ci-chevron" aria-hidden="true">
            {isOpen ? '▾' : '▸'}
          </span>
        </button>
        {!isOpen && (
          <span class="ci-first">
            <b>{CODE_RULES[rows[0]!.i.rule].title}</b> at {rows[0]!.file}:{rows[0]!.i.start.line}
            {rows.length > 1 ? ` +${rows.length - 1}` : ''}
          </span>
        )}
      </div>
      {isOpen && (
        <ol class="ci-list" id="ci-list">
          {rows.map(({ file, i }) => (
            <Item key={`${file}:${i.rule}:${i.from}`} file={file} i={i} onReveal={onReveal} />
          ))}
          {dropped > 0 && <li class="muted">{dropped.toLocaleString('en-US')} more not listed (the first {rows.length} are).</li>}
        </ol>
      )}
    </section>
  );
}
