import { signal } from '@preact/signals';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { GoalDiagram } from './GoalDiagram.tsx';
import { PredictionCard } from './PredictionCard.tsx';
import { SolutionDiff } from './SolutionDiff.tsx';
import type { ComponentChildren } from 'preact';
import {
  checkState,
  docError,
  hasTried,
  hintError,
  hints,
  leaveLesson,
  lessonDoc,
  lessonList,
  listError,
  loadCode,
  loadVerdict,
  openLesson,
  openLessonId,
  paneView,
  parseInline,
  parseMarkdown,
  revealHints,
  runCheck,
  setStepDone,
  showSolution,
  stepError,
  switchError,
  switching,
  type Block,
  type CheckItem,
  type CodeBlock,
  type Inline,
  type LessonSummary,
} from '../lessons.ts';
import '../lessons.css';

/**
 * The lesson pane (the detail panel's first tab): the list of lessons with what is done (the
 * progress view), or the open lesson in steps with code buttons, hints one at a time and the
 * Check button with each check's result in words. Lesson text is Markdown rendered as elements
 * and text nodes: nothing from a lesson ever becomes HTML.
 */

// ---- Markdown as elements -------------------------------------------------------------------------

function InlineView({ parts }: { parts: Inline[] }) {
  return (
    <>
      {parts.map((p) => {
        switch (p.t) {
          case 'text':
            return p.text;
          case 'code':
            return <code>{p.text}</code>;
          case 'strong':
            return (
              <strong>
                <InlineView parts={p.children} />
              </strong>
            );
          case 'em':
            return (
              <em>
                <InlineView parts={p.children} />
              </em>
            );
          case 'link':
            return (
              <a href={p.href} target="_blank" rel="noopener noreferrer">
                <InlineView parts={p.children} />
              </a>
            );
        }
      })}
    </>
  );
}

/** What the learner is asked before a code button replaces their own changes. */
const loadAsk = signal<{ file: string; code: string } | null>(null);
const loadError = signal('');
const loading = signal<string | null>(null);

async function loadButton(file: string, code: string): Promise<void> {
  loadError.value = '';
  loading.value = file;
  try {
    const verdict = await loadVerdict(file, code);
    if (verdict === 'ask') {
      loadAsk.value = { file, code };
      return;
    }
    await loadCode(file, code);
  } catch (err) {
    loadError.value = `${file} was not loaded: ${(err as Error).message}`;
  } finally {
    loading.value = null;
  }
}

function CodeView({ block }: { block: CodeBlock }) {
  const throws = typeof block.attrs.throws === 'string' ? block.attrs.throws : null;
  if (!block.file) {
    return (
      <pre class="lp-pre">
        <code>{block.code.replace(/\n$/, '')}</code>
      </pre>
    );
  }
  const file = block.file;
  return (
    <figure class="lp-code">
      <figcaption>
        <span class="lp-file">{file}</span>
        {throws && <span class="lp-throws" title={`Run as it is, this code raises ${throws} on purpose`}>raises {throws} on purpose</span>}
        <button class="lp-load" onClick={() => void loadButton(file, block.code)} disabled={loading.value !== null}>
          Load into {file}
        </button>
      </figcaption>
      <pre class="lp-pre">
        <code>{block.code.replace(/\n$/, '')}</code>
      </pre>
    </figure>
  );
}

function Heading({ level, children }: { level: number; children: ComponentChildren }) {
  return level <= 4 ? <h4 class="lp-h">{children}</h4> : <h5 class="lp-h">{children}</h5>;
}

function Blocks({ blocks }: { blocks: Block[] }) {
  return (
    <>
      {blocks.map((b) => {
        switch (b.t) {
          case 'heading':
            return (
              <Heading level={b.level}>
                <InlineView parts={b.inline} />
              </Heading>
            );
          case 'para':
            return (
              <p>
                <InlineView parts={b.inline} />
              </p>
            );
          case 'list': {
            const items = b.items.map((it) => (
              <li>
                <InlineView parts={it} />
              </li>
            ));
            return b.ordered ? <ol start={b.start}>{items}</ol> : <ul>{items}</ul>;
          }
          case 'code':
            return <CodeView block={b} />;
          case 'table':
            return (
              <div class="lp-table-wrap">
                <table class="lp-table">
                  <thead>
                    <tr>
                      {b.head.map((c) => (
                        <th>
                          <InlineView parts={c} />
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {b.rows.map((r) => (
                      <tr>
                        {r.map((c) => (
                          <td>
                            <InlineView parts={c} />
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          case 'quote':
            return (
              <blockquote>
                <Blocks blocks={b.blocks} />
              </blockquote>
            );
          case 'rule':
            return <hr />;
        }
      })}
    </>
  );
}

export function Markdown({ md }: { md: string }) {
  return <Blocks blocks={parseMarkdown(md)} />;
}

// ---- dialogs --------------------------------------------------------------------------------------

function LoadDialog() {
  const ask = loadAsk.value;
  return (
    <ConfirmDialog
      open={ask !== null}
      id="lp-load"
      class="lp-dialog"
      title={`Replace your ${ask?.file ?? ''}?`}
      cancelLabel="Keep mine"
      confirmLabel={`Replace ${ask?.file ?? ''}`}
      onCancel={() => (loadAsk.value = null)}
      onConfirm={async () => {
        if (!ask) return;
        await loadCode(ask.file, ask.code);
        loadAsk.value = null;
      }}
    >
      Your <code>{ask?.file ?? ''}</code> has changes of your own: it is not the starter or any of this lesson's code. Loading the lesson's code replaces
      them (Ctrl+Z in the editor brings them back until you reload the page).
    </ConfirmDialog>
  );
}

/** The learner pressed "Show the solution": asked first, the solution is not fetched before. */
const solutionAsk = signal(false);

function SolutionDialog() {
  const doc = lessonDoc.value;
  const shown = doc?.progress.solutionShownAt ?? null;
  return (
    <ConfirmDialog
      open={solutionAsk.value}
      id="lp-solution-ask"
      class="lp-dialog"
      title={shown ? 'See the solution again?' : 'Show the solution?'}
      cancelLabel="Keep trying"
      confirmLabel="Show the solution"
      onCancel={() => (solutionAsk.value = false)}
      onConfirm={async () => {
        await showSolution();
        solutionAsk.value = false;
      }}
    >
      {shown
        ? 'It opens beside your code, as a diff. Your files stay as they are.'
        : 'It opens beside your code, as a diff; your files stay as they are. The lesson will count as "done, solution shown" rather than "done". A last hint or another look at the inspector may be all you need.'}
    </ConfirmDialog>
  );
}

// ---- the progress view: every lesson ------------------------------------------------------------

function when(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

function StepDots({ l }: { l: LessonSummary }) {
  return (
    <span class="lp-dots" aria-hidden="true">
      {Array.from({ length: l.steps }, (_, i) => (
        <span class={l.stepsDone.includes(i + 1) ? 'lp-dot done' : 'lp-dot'} />
      ))}
    </span>
  );
}

function LessonRow({ l, open }: { l: LessonSummary; open: boolean }) {
  const busy = switching.value;
  const status = l.done ? `${l.solutionShown ? 'done, solution shown' : 'done'} · check passed ${when(l.passedAt!)}` : l.solutionShown ? `solution shown${l.lastCheck ? ` · last check: ${l.lastCheck.passing} of ${l.lastCheck.total} pass` : ''}` : l.lastCheck ? `last check: ${l.lastCheck.passing} of ${l.lastCheck.total} pass` : 'not checked yet';
  return (
    <li class={`lp-row${open ? ' open' : ''}${l.done ? ' done' : ''}`} aria-label={`Lesson ${l.number}: ${l.title}`}>
      <span class={l.done ? 'lp-badge done' : 'lp-badge'} aria-hidden="true">
        {l.done ? '✓' : l.number}
      </span>
      <span class="lp-row-main">
        <span class="lp-row-title">
          <InlineView parts={parseInline(l.title)} />
        </span>
        <span class="lp-row-progress">
          <StepDots l={l} />
          <span class="lp-steps-done">
            {l.stepsDone.length} of {l.steps} steps done
          </span>
          <span class={l.done ? 'good' : 'muted'}>· {status}</span>
        </span>
      </span>
      {open ? (
        <button onClick={() => (paneView.value = 'lesson')} aria-label={`Show lesson ${l.number} (open now)`}>
          Show
        </button>
      ) : (
        <button onClick={() => void openLesson(l.id)} disabled={busy !== null} aria-label={`Open lesson ${l.number}`}>
          {busy === l.id ? 'Opening…' : 'Open'}
        </button>
      )}
    </li>
  );
}

function LessonListView() {
  const list = lessonList.value;
  const open = openLessonId();
  if (!list) return <p class="empty">{listError.value || 'Loading the lessons…'}</p>;
  const done = list.lessons.filter((l) => l.done).length;
  return (
    <div class="lp-list">
      <p class="lp-summary" role="status">
        <b>
          {done} of {list.lessons.length}
        </b>{' '}
        lessons done. A lesson is done when its check passes.
      </p>
      <div class={open === null ? 'lp-free in-use' : 'lp-free'}>
        <span>
          <b>Free playground</b>
          <span class="muted"> · your own client.js and server.js, outside the lessons</span>
        </span>
        {open === null ? (
          <span class="lp-inuse">in use</span>
        ) : (
          <button onClick={() => void leaveLesson()} disabled={switching.value !== null}>
            {switching.value === 'free' ? 'Switching…' : 'Switch to it'}
          </button>
        )}
      </div>
      <ol class="lp-lessons" aria-label="Lessons">
        {list.lessons.map((l) => (
          <LessonRow l={l} open={l.id === open} />
        ))}
      </ol>
    </div>
  );
}

// ---- the open lesson ----------------------------------------------------------------------------

function scrollToId(id: string): void {
  requestAnimationFrame(() => document.getElementById(id)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
}

async function readHint(n: number): Promise<void> {
  if ((hints.value?.revealed ?? 0) < n) await revealHints(n);
  scrollToId(`lp-hint-${n}`);
}

function Step({ n, title, body, done }: { n: number; title: string; body: string; done: boolean }) {
  const doc = lessonDoc.value;
  const predictions = doc?.predictions?.filter((p) => p.step === n) ?? [];
  const goal = doc?.goal?.step === n ? doc.goal : null;
  return (
    <section class={done ? 'lp-step done' : 'lp-step'} aria-labelledby={`lp-step-${n}`}>
      <header class="lp-step-head">
        <h3 id={`lp-step-${n}`}>
          <span class="lp-step-n">Step {n}</span> <InlineView parts={parseInline(title)} />
        </h3>
        <label class="lp-done">
          <input type="checkbox" checked={done} onChange={(e) => void setStepDone(n, (e.currentTarget as HTMLInputElement).checked)} aria-label={`Step ${n} done`} />
          done
        </label>
      </header>
      {/* Asked before the step's run: the card sits above the text that tells what happens. */}
      {predictions.map((p) => (
        <PredictionCard p={p} />
      ))}
      <Markdown md={body} />
      {goal && <GoalDiagram goal={goal} />}
    </section>
  );
}

function CheckRow({ c }: { c: CheckItem }) {
  const icon = c.state === 'pass' ? '✓' : c.state === 'fail' ? '✗' : '–';
  return (
    <li class={`lp-result ${c.state}`}>
      <span class="lp-icon" aria-hidden="true">
        {icon}
      </span>
      <span class="lp-result-main">
        <span class="lp-sentence">
          {/* The sentence says what the check wants; a failure is "not yet", never a false statement. */}
          {c.state === 'fail' ? <span class="lp-verdict">Not yet: </span> : <span class="sr-only">{c.state === 'pass' ? 'passed: ' : 'not run: '}</span>}
          {c.name}
        </span>
        {c.message && <span class="lp-message">{c.message}</span>}
        {c.state === 'fail' && c.hint !== undefined && (
          <button class="link-button lp-read-hint" onClick={() => void readHint(c.hint!)}>
            read hint {c.hint}
          </button>
        )}
      </span>
    </li>
  );
}

function CheckResults() {
  const s = checkState.value;
  const r = s.result;
  if (!r && !s.error) return null;
  return (
    <section class="lp-check" id="lp-check" aria-label="Check results">
      <h3>
        Check{' '}
        {r && (
          <span class={r.ok ? 'good' : 'bad'}>
            · {r.ok ? `all ${r.total} pass` : `${r.passing} of ${r.total} pass`}
          </span>
        )}
      </h3>
      {s.error && (
        <p class="bad" role="alert">
          {s.error}
        </p>
      )}
      {r?.problem && (
        <div class="lp-problem" role="alert">
          <b>{r.total > 0 && r.checks.every((c) => c.state === 'skip') ? 'None of the checks could run:' : 'The check says:'}</b>
          <span class="lp-message">{r.problem}</span>
        </div>
      )}
      {r && r.checks.length > 0 && (
        <ul class="lp-results" aria-label="Checks">
          {r.checks.map((c) => (
            <CheckRow c={c} />
          ))}
        </ul>
      )}
      {r && (
        <p class="muted lp-when">
          Ran at {new Date(r.at).toLocaleTimeString('en-GB')} in {(r.ms / 1000).toFixed(1)} s, on the files in your lesson folder.
        </p>
      )}
    </section>
  );
}

function Hints() {
  const h = hints.value;
  const doc = lessonDoc.value;
  if (!doc || doc.hints === 0) return null;
  const revealed = h?.hints ?? [];
  return (
    <section class="lp-hints" aria-label="Hints">
      <h3>Hints</h3>
      {revealed.length === 0 && <p class="muted">Stuck? Hints come one at a time, each a little more direct than the one before.</p>}
      {revealed.map((hint) => (
        <div class="lp-hint" id={`lp-hint-${hint.n}`} role="note" aria-label={`Hint ${hint.n}`}>
          <span class="lp-hint-n">Hint {hint.n}</span>
          <Markdown md={hint.text} />
        </div>
      ))}
      {hintError.value && (
        <p class="bad" role="alert">
          {hintError.value}
        </p>
      )}
    </section>
  );
}

function Footer() {
  const s = checkState.value;
  const doc = lessonDoc.value;
  const h = hints.value;
  if (!doc) return null;
  const r = s.result;
  const next = (h?.revealed ?? 0) + 1;
  const total = h?.total ?? doc.hints;
  const run = async () => {
    await runCheck();
    scrollToId('lp-check');
  };
  return (
    <footer class="lp-foot">
      <button class="primary lp-check-button" onClick={() => void run()} disabled={s.running} aria-describedby="lp-check-status">
        {s.running ? 'Checking…' : 'Check'}
      </button>
      <span id="lp-check-status" class="lp-status" role="status" aria-live="polite">
        {s.running ? (
          <span class="muted">running your server and client…</span>
        ) : r ? (
          <span class={r.ok ? 'good' : 'bad'}>{r.ok ? `✓ All ${r.total} checks pass` : r.total === 0 ? '✗ the checks could not run' : `✗ ${r.passing} of ${r.total} checks pass`}</span>
        ) : doc.progress.passedAt ? (
          <span class="good">✓ passed {when(doc.progress.passedAt)}</span>
        ) : doc.progress.check ? (
          <span class="muted">
            last check: {doc.progress.check.passing} of {doc.progress.check.total} pass
          </span>
        ) : (
          <span class="muted">not checked yet</span>
        )}
      </span>
      {doc.hasSolution && (
        <button
          class="lp-solution-button"
          aria-label="Show the solution"
          disabled={!hasTried(doc)}
          onClick={() => (solutionAsk.value = true)}
          title={hasTried(doc) ? 'See the solution beside your code (asks first)' : `Offered once you have tried: run Check${doc.hints > 0 ? ', or read every hint' : ''}`}
        >
          {/* Short: the footer keeps room for the check's status at 1024 px. */}
          Solution…
        </button>
      )}
      {total > 0 && (
        <button
          class="lp-hint-button"
          disabled={next > total}
          onClick={() => void readHint(next)}
          title={next > total ? 'Every hint is shown below' : 'Show the next hint (below the steps)'}
        >
          {next > total ? `All ${total} hints shown` : `Hint ${next} of ${total}`}
        </button>
      )}
    </footer>
  );
}

function LessonView() {
  const doc = lessonDoc.value;
  if (!doc) return <p class="empty">{docError.value || 'Loading the lesson…'}</p>;
  const done = new Set(doc.progress.steps);
  return (
    <article class="lp-lesson" aria-label={`Lesson ${doc.number}: ${doc.title}`}>
      <p class="lp-where muted">
        Your files for this lesson: <code>{doc.dir}</code>
      </p>
      <div class="lp-intro">
        <Markdown md={doc.intro} />
      </div>
      {doc.steps.map((s) => (
        <Step n={s.n} title={s.title} body={s.body} done={done.has(s.n)} />
      ))}
      <CheckResults />
      <Hints />
    </article>
  );
}

export function LessonPane() {
  const open = openLessonId();
  const doc = lessonDoc.value;
  const view = open && paneView.value === 'lesson' ? 'lesson' : 'list';
  const errors = [switchError.value, loadError.value, stepError.value].filter(Boolean);
  return (
    <div class="lesson-pane">
      {/* The list needs no heading of its own: the tab above it says "Lessons". */}
      {view === 'lesson' && (
        <header class="lp-head">
          <button class="lp-back" onClick={() => (paneView.value = 'list')} aria-label="All lessons and progress">
            ☰ All lessons
          </button>
          <h2 class="lp-title" title={doc ? `Lesson ${doc.number} · ${doc.title.replace(/`/g, '')}` : undefined}>
            {doc ? (
              <>
                Lesson {doc.number} · <InlineView parts={parseInline(doc.title)} />
              </>
            ) : (
              `Lesson ${open}`
            )}
          </h2>
          {doc && (
            <span class="lp-head-progress muted" aria-label="Steps done">
              {doc.progress.steps.length}/{doc.steps.length} steps{doc.progress.solutionShownAt ? ' · solution shown' : ''}
            </span>
          )}
        </header>
      )}
      {errors.map((e) => (
        <div class="banner error lp-banner" role="alert">
          {e}
        </div>
      ))}
      <div class="lp-body">{view === 'lesson' ? <LessonView /> : <LessonListView />}</div>
      {view === 'lesson' && <Footer />}
      <LoadDialog />
      <SolutionDialog />
      <SolutionDiff />
    </div>
  );
}
