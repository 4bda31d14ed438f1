import { effect } from '@preact/signals';
import type * as Monaco from 'monaco-editor/editor';
import { activeWorkspace } from '../state.ts';
import { analyze, kindOf, type CodeInsight } from './analyze.ts';
import { CODE_RULES } from './rules.ts';
import { codeInsights, evidenceFor, evidenceVersion, setFileInsights, setFixer, type CodeFile } from './store.ts';

/**
 * The insights in the code, in Monaco: client.js and server.js are analysed (analyze.ts) a moment
 * after each change, each finding is a marker (squiggle, hover with its cause, way out, lesson and
 * what the last run did there) and, where it is safe, a quick fix (a code action: the lightbulb,
 * Ctrl+. and the hover's "Quick Fix…").
 */

export const MARKER_OWNER = 'wsplay-insights';
/** The hover's source line for our markers; code actions find their findings by it. */
export const MARKER_SOURCE = 'wsplay insight';
/** Analysed this long after the last keystroke: a parse per key would be wasted on half-typed code. */
const ANALYZE_DELAY_MS = 250;

type M = typeof Monaco;

/** The model version each file was analysed at: a fix's offsets hold for that text only. */
const analysedVersion = new Map<CodeFile, number>();
const models = new Map<CodeFile, Monaco.editor.ITextModel>();
let monacoRef: M | null = null;

function analyseNow(file: CodeFile): void {
  const model = models.get(file);
  const kind = kindOf(file);
  if (!model || model.isDisposed() || !kind) return;
  const r = analyze(kind, model.getValue(), { lesson: activeWorkspace.peek()?.lesson ?? null });
  // A file that does not parse keeps its last findings (half-typed code): Monaco's own syntax marker says what is wrong.
  if (r.skipped && r.skipped.startsWith('it does not parse') && codeInsights.peek()[file]) return;
  analysedVersion.set(file, model.getVersionId());
  setFileInsights(file, r);
}

/** Follow one of the two files' models: analyse it now and after each change. */
export function watchModel(file: string, model: Monaco.editor.ITextModel): void {
  if (file !== 'client.js' && file !== 'server.js') return;
  models.set(file, model);
  let timer: ReturnType<typeof setTimeout> | null = null;
  model.onDidChangeContent(() => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      analyseNow(file);
    }, ANALYZE_DELAY_MS);
  });
  analyseNow(file);
}

/** The hover's text: the finding, what the last run did there, the lesson. */
export function markerMessage(file: CodeFile, i: CodeInsight): string {
  const ev = evidenceFor(file, i);
  const info = CODE_RULES[i.rule];
  return `${i.message}${ev ? `\n\nOnce run: ${ev.summary}.` : ''}\n\nTaught in ${info.lessonTitle}.`;
}

function toRange(model: Monaco.editor.ITextModel, from: number, to: number): Monaco.IRange {
  const a = model.getPositionAt(from);
  const b = model.getPositionAt(to);
  return { startLineNumber: a.lineNumber, startColumn: a.column, endLineNumber: b.lineNumber, endColumn: b.column };
}

/**
 * Apply a finding's quick fix as one undoable edit (saved like any typing). Typed text since the
 * last analysis (a click within its 250 ms) moves the fix's offsets: the file is analysed again
 * first and the same finding (same rule, its n-th) fixed there. False when that cannot be done:
 * the text does not parse now, or the finding is gone.
 */
function applyFixInModel(file: CodeFile, i: CodeInsight): boolean {
  const model = models.get(file);
  if (!model || model.isDisposed() || !i.fix) return false;
  let target: CodeInsight | undefined = i;
  if (analysedVersion.get(file) !== model.getVersionId()) {
    const nth = (codeInsights.peek()[file]?.list ?? []).filter((x) => x.rule === i.rule).findIndex((x) => x.from === i.from);
    analyseNow(file);
    if (analysedVersion.get(file) !== model.getVersionId()) return false;
    target = (codeInsights.peek()[file]?.list ?? []).filter((x) => x.rule === i.rule)[Math.max(0, nth)];
    if (!target?.fix) return false;
  }
  const fix = target.fix!;
  model.pushStackElement();
  model.pushEditOperations([], fix.edits.map((e) => ({ range: toRange(model, e.start, e.end), text: e.text })), () => null);
  model.pushStackElement();
  return true;
}

/** Where a finding is in a file, as the list's "Fix" and the code actions look it up. */
function findingAt(file: CodeFile, rule: string, line: number, column: number): CodeInsight | undefined {
  return codeInsights.peek()[file]?.list.find((i) => i.rule === rule && i.start.line === line && i.start.column === column);
}

export function installCodeInsights(monaco: M): void {
  if (monacoRef) return;
  monacoRef = monaco;
  setFixer(applyFixInModel);

  // The workspace changed (a lesson opened): other rules are in force.
  effect(() => {
    activeWorkspace.value;
    for (const f of models.keys()) analyseNow(f);
  });

  // Markers: the findings, with what the last run did at each (re-set when either changes).
  effect(() => {
    const all = codeInsights.value;
    evidenceVersion.value;
    for (const [file, model] of models) {
      if (model.isDisposed()) continue;
      const list = all[file]?.list ?? [];
      // The findings are for the text analysed; typed text since then moves them with Monaco's own decorations.
      monaco.editor.setModelMarkers(
        model,
        MARKER_OWNER,
        list.map((i) => ({
          severity: i.severity === 'error' ? monaco.MarkerSeverity.Error : monaco.MarkerSeverity.Warning,
          message: markerMessage(file, i),
          source: MARKER_SOURCE,
          code: i.rule,
          startLineNumber: i.start.line,
          startColumn: i.start.column,
          endLineNumber: i.end.line,
          endColumn: i.end.column,
        })),
      );
    }
  });

  const provider: Monaco.languages.CodeActionProvider = {
    provideCodeActions(model, _range, context) {
      const file = model.uri.path.replace(/^\//, '');
      if (file !== 'client.js' && file !== 'server.js') return { actions: [], dispose() {} };
      const actions: Monaco.languages.CodeAction[] = [];
      for (const marker of context.markers) {
        if (marker.source !== MARKER_SOURCE) continue;
        const rule = typeof marker.code === 'string' ? marker.code : marker.code?.value;
        const i = rule ? findingAt(file, rule, marker.startLineNumber, marker.startColumn) : undefined;
        if (!i?.fix || analysedVersion.get(file) !== model.getVersionId()) continue;
        actions.push({
          title: i.fix.title,
          kind: 'quickfix',
          diagnostics: [marker],
          isPreferred: true,
          edit: { edits: i.fix.edits.map((e) => ({ resource: model.uri, versionId: model.getVersionId(), textEdit: { range: toRange(model, e.start, e.end), text: e.text } })) },
        });
      }
      return { actions, dispose() {} };
    },
  };
  monaco.languages.registerCodeActionProvider('javascript', provider);
  monaco.languages.registerCodeActionProvider('typescript', provider);
}
