import { effect, signal } from '@preact/signals';
import type { CheckResult } from '../../server/app/lesson-check.ts';
import type { LessonProgress } from '../../server/app/lesson-progress.ts';
import type { HintsReply, LessonDoc, LessonList, SolutionReply } from '../../server/app/lesson-routes.ts';
import { activeFile, saveAll, sessions, switchWorkspace, fetchFile } from './runner/workspace.ts';
import { runner } from './runner/run-client.ts';
import { activeWorkspace, centerView, tokenFromUrl, wiretapNow } from './state.ts';
import { captureViews, lastConnection, showView, shownView, startView, viewStart } from './capture-scope.ts';

/**
 * The lessons in the dashboard: the list with the learner's progress, the open lesson's text,
 * its hints (one at a time, on request), the Check button's runs, and the code buttons that
 * load a lesson's code into the editor. The lesson's Markdown is parsed here into blocks that
 * LessonPane renders as elements and text nodes (never as HTML).
 */

export type { CheckResult, CheckItem } from '../../server/app/lesson-check.ts';
export type { LessonDoc, LessonList, LessonSummary, HintsReply, SolutionReply } from '../../server/app/lesson-routes.ts';
export type { Goal, Prediction } from '../../lessons/harness/goal.ts';

/** `steps` with every step 1..count added (as server/app/lesson-routes.ts records a passing check). */
function stepsWithAll(steps: number[], count: number): number[] {
  return [...new Set([...steps, ...Array.from({ length: count }, (_, i) => i + 1)])].sort((a, b) => a - b);
}

// ---- Markdown ---------------------------------------------------------------------------------

export type Inline =
  | { t: 'text'; text: string }
  | { t: 'code'; text: string }
  | { t: 'strong'; children: Inline[] }
  | { t: 'em'; children: Inline[] }
  | { t: 'link'; href: string; children: Inline[] };

export interface CodeBlock {
  t: 'code';
  lang: string;
  /** `file=client.js`: the block is that file's whole content (a "Load into client.js" button). */
  file: string | null;
  attrs: Record<string, string | true>;
  code: string;
}

export type Block =
  | { t: 'heading'; level: number; inline: Inline[] }
  | { t: 'para'; inline: Inline[] }
  | { t: 'list'; ordered: boolean; start: number; items: Inline[][] }
  | CodeBlock
  | { t: 'table'; head: Inline[][]; rows: Inline[][][] }
  | { t: 'quote'; blocks: Block[] }
  | { t: 'rule' };

/** `file=client.js throws=InvalidStateError norun` (as lessons/harness/format.ts reads it). */
export function parseAttrs(info: string): Record<string, string | true> {
  const attrs: Record<string, string | true> = {};
  for (const m of info.matchAll(/([A-Za-z][\w-]*)(?:=("[^"]*"|\S+))?/g)) {
    const value = m[2];
    attrs[m[1]!] = value === undefined ? true : value.replace(/^"|"$/g, '');
  }
  return attrs;
}

/** Only web links are links; anything else (javascript:, data:) stays text. */
export function safeHref(href: string): string | null {
  return /^https?:\/\//i.test(href.trim()) ? href.trim() : null;
}

/** `code`, **strong**, *em* or _em_, [text](https://...). */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push({ t: 'text', text: buf });
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && /[\\`*_[\]()#|!-]/.test(text[i + 1]!)) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (text[i + n] === '`') n++;
      const fence = '`'.repeat(n);
      const end = text.indexOf(fence, i + n);
      if (end > 0) {
        flush();
        let code = text.slice(i + n, end);
        if (/^ .* $/.test(code)) code = code.slice(1, -1);
        out.push({ t: 'code', text: code });
        i = end + n;
        continue;
      }
      buf += fence;
      i += n;
      continue;
    }
    if (c === '*' && text[i + 1] === '*') {
      const end = text.indexOf('**', i + 2);
      if (end > i + 2) {
        flush();
        out.push({ t: 'strong', children: parseInline(text.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] !== c && text[i + 1] !== ' ' && (c === '*' || i === 0 || /[\s(]/.test(text[i - 1]!))) {
      const end = text.indexOf(c, i + 1);
      if (end > i + 1 && text[end - 1] !== ' ' && (c === '*' || end + 1 >= text.length || /[\s.,;:!?)]/.test(text[end + 1]!))) {
        flush();
        out.push({ t: 'em', children: parseInline(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(text.slice(i));
      if (m) {
        flush();
        const href = safeHref(m[2]!);
        if (href) out.push({ t: 'link', href, children: parseInline(m[1]!) });
        else out.push(...parseInline(m[1]!));
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const ITEM = /^(\s{0,3})([-*+]|\d{1,9}[.)])\s+(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

function cells(line: string): Inline[][] {
  const t = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return t.split('|').map((c) => parseInline(c.trim()));
}

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || ITEM.test(line) || RULE.test(line) || /^\s{0,3}>/.test(line);
}

/** The Markdown the lessons are written in, as blocks (lessons/README.md). */
export function parseMarkdown(md: string): Block[] {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1]!;
      const body: string[] = [];
      for (i++; i < lines.length; i++) {
        const t = lines[i]!.trim();
        if (t.length >= marker.length && t === marker[0]!.repeat(t.length)) break;
        body.push(lines[i]!);
      }
      i++;
      const attrs = parseAttrs(fence[3] ?? '');
      const file = typeof attrs.file === 'string' ? attrs.file : null;
      delete attrs.file;
      blocks.push({ t: 'code', lang: fence[2] ?? '', file, attrs, code: body.join('\n') + '\n' });
      continue;
    }
    // An indented block after a blank line: code, shown as it is.
    if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]!) || (lines[i]!.trim() === '' && /^( {4}|\t)/.test(lines[i + 1] ?? '')))) {
        body.push(lines[i]!.replace(/^( {4}|\t)/, ''));
        i++;
      }
      blocks.push({ t: 'code', lang: '', file: null, attrs: {}, code: body.join('\n') + '\n' });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ t: 'heading', level: heading[1]!.length, inline: parseInline(heading[2]!) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ t: 'rule' });
      i++;
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i]!)) body.push(lines[i++]!.replace(/^\s{0,3}>\s?/, ''));
      blocks.push({ t: 'quote', blocks: parseMarkdown(body.join('\n')) });
      continue;
    }
    if (line.includes('|') && TABLE_SEP.test(lines[i + 1] ?? '')) {
      const head = cells(line);
      const rows: Inline[][][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.includes('|') && lines[i]!.trim() !== '') rows.push(cells(lines[i++]!));
      blocks.push({ t: 'table', head, rows });
      continue;
    }
    const item = ITEM.exec(line);
    if (item) {
      const ordered = /\d/.test(item[2]!);
      const items: string[] = [];
      let start = ordered ? parseInt(item[2]!, 10) : 1;
      while (i < lines.length) {
        const l = lines[i]!;
        const m = ITEM.exec(l);
        if (m && /\d/.test(m[2]!) === ordered) {
          items.push(m[3]!);
          i++;
          continue;
        }
        if (l.trim() === '') {
          // A blank line ends the list unless the next line goes on with it (indented, or another item).
          const next = lines[i + 1] ?? '';
          const nm = ITEM.exec(next);
          if ((nm && /\d/.test(nm[2]!) === ordered) || (/^\s{2,}\S/.test(next) && !/^( {4}|\t)/.test(next))) {
            i++;
            continue;
          }
          break;
        }
        if (FENCE.test(l) || HEADING.test(l) || (m && /\d/.test(m[2]!) !== ordered)) break;
        items[items.length - 1] += ` ${l.trim()}`;
        i++;
      }
      if (!ordered) start = 1;
      blocks.push({ t: 'list', ordered, start, items: items.map(parseInline) });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '' && (para.length === 0 || !startsBlock(lines[i]!))) {
      if (para.length > 0 && lines[i]!.includes('|') && TABLE_SEP.test(lines[i + 1] ?? '')) break;
      para.push(lines[i]!.trim());
      i++;
    }
    blocks.push({ t: 'para', inline: parseInline(para.join(' ')) });
  }
  return blocks;
}

/** Every `file=` code block of a lesson, by file: the texts a learner may have loaded. */
export function lessonCode(doc: LessonDoc): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  const add = (file: string, code: string) => byFile.set(file, [...(byFile.get(file) ?? []), code]);
  for (const [file, code] of Object.entries(doc.starter)) add(file, code);
  for (const md of [doc.intro, ...doc.steps.map((s) => s.body)]) {
    for (const b of parseMarkdown(md)) if (b.t === 'code' && b.file) add(b.file, b.code);
  }
  return byFile;
}

// ---- the API ------------------------------------------------------------------------------------

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = new Headers({ 'X-Wsplay-Token': tokenFromUrl() });
  if (body !== undefined) headers.set('Content-Type', 'application/json');
  const res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // Plain text.
    }
    const err = new Error(message.replace(/^\d{3}: /, '').trim() || `${res.status} ${res.statusText}`) as Error & { status: number };
    err.status = res.status;
    throw err;
  }
  return JSON.parse(text) as T;
}

// ---- state --------------------------------------------------------------------------------------

/** Every lesson with the learner's progress; null before the first answer. */
export const lessonList = signal<LessonList | null>(null);
/** Why there is no list (wsplay tap has no lessons; the playground is unreachable). */
export const listError = signal('');
/** The open lesson's text and progress. */
export const lessonDoc = signal<LessonDoc | null>(null);
export const docError = signal('');
/** The open lesson's hints revealed so far. */
export const hints = signal<HintsReply | null>(null);
export const hintError = signal('');
/** The lesson pane shows the open lesson, or the list of all lessons (the progress view). */
export const paneView = signal<'lesson' | 'list'>('lesson');
/** A lesson being opened (its id), or 'free' while going back to the free playground. */
export const switching = signal<string | null>(null);
export const switchError = signal('');

export interface CheckState {
  lesson: string | null;
  running: boolean;
  result: CheckResult | null;
  error: string;
}
export const checkState = signal<CheckState>({ lesson: null, running: false, result: null, error: '' });

/** The lesson open in the playground: the stream's word, or the list's before the stream spoke. */
export function openLessonId(): string | null {
  const ws = activeWorkspace.value;
  return ws ? ws.lesson : (lessonList.value?.active ?? null);
}

export async function refreshList(): Promise<void> {
  try {
    lessonList.value = await call<LessonList>('GET', '/api/lessons');
    listError.value = '';
  } catch (err) {
    const e = err as Error & { status?: number };
    listError.value = e.status === 404 ? 'Lessons run with `npm start` (wsplay start), where the playground runs your server.js.' : `The lessons could not be loaded: ${e.message}`;
  }
}

let docRequest = 0;
async function loadDoc(id: string): Promise<void> {
  const n = ++docRequest;
  try {
    const [doc, h] = await Promise.all([call<LessonDoc>('GET', `/api/lessons/${encodeURIComponent(id)}`), call<HintsReply>('GET', `/api/lessons/${encodeURIComponent(id)}/hints`)]);
    if (n !== docRequest) return;
    lessonDoc.value = doc;
    hints.value = h;
    docError.value = '';
    hintError.value = '';
  } catch (err) {
    if (n === docRequest) docError.value = `Lesson ${id} could not be loaded: ${(err as Error).message}`;
  }
}

/** Edits go to disk before the files change under the editor (or before a check reads them). */
async function saveFirst(): Promise<string | null> {
  try {
    await saveAll();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function switchTo(path: string, id: string): Promise<void> {
  if (switching.value) return;
  switching.value = id;
  switchError.value = '';
  try {
    const problem = await saveFirst();
    if (problem) throw new Error(`your edits could not be saved first (${problem})`);
    const r = await call<{ lesson: string | null; files: Array<{ name: string }> }>('POST', path);
    const files = r.files.map((f) => f.name);
    // The stream says the same to every page; this page need not wait for it.
    activeWorkspace.value = { lesson: r.lesson, files };
    switchWorkspace(r.lesson, files);
    paneView.value = r.lesson ? 'lesson' : 'list';
  } catch (err) {
    switchError.value = `Could not ${id === 'free' ? 'go back to the free playground' : `open lesson ${id}`}: ${(err as Error).message}`;
  } finally {
    switching.value = null;
    void refreshList();
  }
}

/** Work on a lesson: its files in the editor, server.js restarted in its folder. */
export function openLesson(id: string): Promise<void> {
  return switchTo(`/api/lessons/${encodeURIComponent(id)}/open`, id);
}

/** Back to the free playground (the workspace's own client.js and server.js). */
export function leaveLesson(): Promise<void> {
  return switchTo('/api/lessons/free', 'free');
}

/** Show hints 1..n (the next one, or the one a failed check names). */
export async function revealHints(n: number): Promise<void> {
  const doc = lessonDoc.value;
  if (!doc) return;
  try {
    hints.value = await call<HintsReply>('GET', `/api/lessons/${encodeURIComponent(doc.id)}/hints?upto=${n}`);
    hintError.value = '';
    lessonDoc.value = { ...doc, progress: { ...doc.progress, hints: hints.value.revealed } };
  } catch (err) {
    hintError.value = `The hint could not be loaded: ${(err as Error).message}`;
  }
}

function setProgress(id: string, p: LessonProgress): void {
  const doc = lessonDoc.value;
  if (doc?.id === id) lessonDoc.value = { ...doc, progress: p };
}

export const stepError = signal('');

/** The learner ticked (or unticked) a step. Saved in workspace/progress.json. */
export async function setStepDone(n: number, done: boolean): Promise<void> {
  const doc = lessonDoc.value;
  if (!doc) return;
  const before = doc.progress;
  const steps = done ? [...new Set([...before.steps, n])].sort((a, b) => a - b) : before.steps.filter((s) => s !== n);
  setProgress(doc.id, { ...before, steps });
  try {
    const progress = await call<{ lessons: Record<string, LessonProgress> }>('PUT', '/api/progress', { lessons: { [doc.id]: { steps } } });
    const p = progress.lessons[doc.id];
    if (p) setProgress(doc.id, p);
    stepError.value = '';
    void refreshList();
  } catch (err) {
    setProgress(doc.id, before);
    stepError.value = `Not saved: ${(err as Error).message}`;
  }
}

/** Run the lesson's check on the learner's files (saved first). */
export async function runCheck(): Promise<void> {
  const doc = lessonDoc.value;
  if (!doc || checkState.value.running) return;
  checkState.value = { lesson: doc.id, running: true, result: checkState.value.lesson === doc.id ? checkState.value.result : null, error: '' };
  const problem = await saveFirst();
  if (problem) {
    checkState.value = { ...checkState.value, running: false, error: `Your files could not be saved, so the check would not see your code: ${problem}` };
    return;
  }
  try {
    const result = await call<CheckResult>('POST', `/api/lessons/${encodeURIComponent(doc.id)}/check`);
    void refreshList();
    // Another lesson opened while this one was checked: its pane has nothing to show of this.
    if (openLessonId() !== doc.id) return;
    checkState.value = { lesson: doc.id, running: false, result, error: '' };
    const now = lessonDoc.value;
    if (now?.id === doc.id) {
      const check = { passed: result.ok, at: result.at, passing: result.passing, total: result.total };
      // A passing check counts every step done, as the playground records it (lesson-routes.ts).
      const steps = result.ok ? stepsWithAll(now.progress.steps, now.steps.length) : now.progress.steps;
      setProgress(doc.id, { ...now.progress, steps, check, passedAt: result.ok ? result.at : now.progress.passedAt });
    }
  } catch (err) {
    if (checkState.peek().lesson === doc.id) checkState.value = { ...checkState.peek(), running: false, error: (err as Error).message };
  }
}

/** The file's text now: the editor's (with unsaved edits) when it has it, else the disk's. */
async function currentText(file: string): Promise<string> {
  return sessions[file]?.text() ?? (await fetchFile(file));
}

/**
 * A code button's first step: 'same' (the file already has this code), 'replace' (it holds
 * the starter or another of the lesson's code: nothing of the learner's is lost), or 'ask' (it
 * has changes of the learner's own).
 */
export async function loadVerdict(file: string, code: string): Promise<'same' | 'replace' | 'ask'> {
  const doc = lessonDoc.value;
  let text: string;
  try {
    text = await currentText(file);
  } catch {
    return 'replace';
  }
  if (text === code) return 'same';
  const known = doc ? (lessonCode(doc).get(file) ?? []) : [];
  return known.includes(text) ? 'replace' : 'ask';
}

/** Put `code` in `file` (disk and editor) and show it in the editor. */
export async function loadCode(file: string, code: string): Promise<void> {
  const s = sessions[file];
  if (!s) throw new Error(`${file} is not one of this lesson's files`);
  if ((s.text() ?? null) !== code) await s.replaceWith(code);
  activeFile.value = file;
  centerView.value = 'editor';
}

// ---- Show the solution ------------------------------------------------------------------------

/**
 * The learner has tried: a check ran on their code, or they read every hint (as the server
 * decides it, server/app/lesson-progress.ts hasTried). Before that the pane offers no solution,
 * and the server would refuse it.
 */
export function hasTried(doc: LessonDoc): boolean {
  return doc.progress.check !== null || (doc.hints > 0 && doc.progress.hints >= doc.hints);
}

/** The solution on show beside the learner's files (null: the diff is closed). */
export const solution = signal<{ lesson: string; files: Record<string, string> } | null>(null);

/** Ask the playground for the solution (recorded as shown), and open the diff. */
export async function showSolution(): Promise<void> {
  const doc = lessonDoc.value;
  if (!doc) return;
  const problem = await saveFirst();
  if (problem) throw new Error(`your edits could not be saved first (${problem})`);
  const reply = await call<SolutionReply>('POST', `/api/lessons/${encodeURIComponent(doc.id)}/solution`);
  setProgress(doc.id, reply.progress);
  solution.value = { lesson: doc.id, files: reply.files };
  void refreshList();
}

/** The learner's text of a file now (the editor's, unsaved edits included), for the diff. */
export function learnerText(file: string): Promise<string> {
  return currentText(file).catch(() => '');
}

// ---- Predict, then run --------------------------------------------------------------------------

const SINCE_KEY = 'wsplay-prediction-since';
/** When (wiretap time) each prediction was answered on this page: the run to read comes after. */
export const predictionSince = signal<Record<string, number>>(
  (() => {
    try {
      return (JSON.parse(sessionStorage.getItem(SINCE_KEY) ?? '{}') as Record<string, number>) ?? {};
    } catch {
      return {};
    }
  })(),
);
export const predictionError = signal('');

/** Keep the learner's guess (progress.json) before the run or the fault it is about. */
export async function answerPrediction(id: string, choice: string): Promise<void> {
  const doc = lessonDoc.value;
  if (!doc) return;
  try {
    const progress = await call<{ lessons: Record<string, LessonProgress> }>('PUT', '/api/progress', { lessons: { [doc.id]: { predictions: { [id]: choice } } } });
    const p = progress.lessons[doc.id];
    if (p) setProgress(doc.id, p);
    predictionSince.value = { ...predictionSince.value, [`${doc.id}/${id}`]: wiretapNow() ?? 0 };
    try {
      sessionStorage.setItem(SINCE_KEY, JSON.stringify(predictionSince.value));
    } catch {
      // No storage: the answer's time lasts as long as the page.
    }
    predictionError.value = '';
  } catch (err) {
    predictionError.value = `Your answer was not kept: ${(err as Error).message}`;
  }
}

// ---- the run a goal diagram compares -------------------------------------------------------------

/**
 * The first connection of the learner's latest run (▶ Run in the Code tab): a goal diagram
 * compares that run's connections, not everything since the lesson opened.
 */
export const runFromConn = signal<number | null>(null);
let runsSeen = runner.peek().runs;
effect(() => {
  const runs = runner.value.runs;
  if (runs === runsSeen) return;
  runsSeen = runs;
  runFromConn.value = lastConnection() + 1;
  // A run belongs to the open lesson: its connections must show (and link to the peers).
  const views = captureViews.peek();
  if (shownView.peek() !== views.length - 1) showView(views.length - 1);
});

/** Where the goal's comparison starts: the latest run, or the lesson's capture view. */
export function goalFromConn(): number {
  return Math.max(runFromConn.value ?? 0, viewStart());
}

// The open lesson changed (this page or another opened one): load its text, forget the old check.
let shownLesson: string | null | undefined;
effect(() => {
  // No workspace (wsplay tap: the playground does not run the learner's code): no lessons either.
  if (activeWorkspace.value === null) return;
  const id = openLessonId();
  if (id === shownLesson) return;
  shownLesson = id;
  // A clean inspector for each lesson: the earlier lesson's connections stay one click away.
  startView(id);
  runFromConn.value = null;
  if (solution.peek()?.lesson !== id) solution.value = null;
  if (checkState.peek().lesson !== id) checkState.value = { lesson: id, running: false, result: null, error: '' };
  if (id) void loadDoc(id);
  else {
    lessonDoc.value = null;
    hints.value = null;
  }
  void refreshList();
});
