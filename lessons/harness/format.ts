/**
 * The lesson format (lessons/README.md), read from disk: lesson.md in steps, hints.md in
 * numbered hints, lesson.json. Shared by the check harness, the integrity test and the
 * dashboard's lesson pane, so all three read a lesson the same way.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LESSONS_DIR = fileURLToPath(new URL('../', import.meta.url));

/** A lesson folder is named `NN-slug`: two digits, a dash, lowercase words. */
export const LESSON_FOLDER = /^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A fenced code block of lesson.md. */
export interface CodeBlock {
  /** The fence's language (`js`). */
  lang: string;
  /** `file=client.js`: the block is that file's whole content, loaded into the editor by a button. */
  file: string | null;
  /**
   * The fence's other attributes, `key=value` or bare `key` (true). Known ones:
   * `throws=InvalidStateError` (the block, run as it is, raises that error, on purpose),
   * `norun` (loads, but is not run by the integrity test; say why in the text).
   */
  attrs: Record<string, string | true>;
  code: string;
  /** 1-based line of the opening fence in lesson.md. */
  line: number;
}

export interface LessonStep {
  /** 1-based, from the `### Step N` heading. */
  n: number;
  /** The heading's text after `Step N:` (or after `Step N`). */
  title: string;
  /** The step's Markdown, heading excluded. */
  body: string;
  blocks: CodeBlock[];
}

export interface LessonText {
  /** The `# ` heading. */
  title: string;
  /** Markdown before the first step. */
  intro: string;
  steps: LessonStep[];
}

export interface LessonMeta {
  /** False when the starter is meant to fail the check (the learner has something to write). */
  starterPasses: boolean;
  /** True when starter/client.js and starter/server.js are the course's code, verbatim. */
  courseStarter: boolean;
  /**
   * Lesson 20: server.js runs as several processes (`instances`, each its WSPLAY_INSTANCE), the
   * wiretap alternating new connections between them, beside a redis-server when `redis`; in
   * the playground while the lesson is open and in every run of its check.
   */
  cluster?: LessonCluster;
}

export interface LessonCluster {
  instances: string[];
  redis: boolean;
}

/** lesson.json's `cluster`, when it is one: 2 to 4 short lowercase names, and `redis`. */
function clusterOf(raw: unknown): LessonCluster | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as { instances?: unknown; redis?: unknown };
  const names = Array.isArray(c.instances) ? c.instances.filter((n): n is string => typeof n === 'string' && /^[a-z][a-z0-9]{0,7}$/.test(n)) : [];
  if (names.length < 2 || names.length > 4 || names.length !== (c.instances as unknown[]).length || new Set(names).size !== names.length) return undefined;
  return { instances: names, redis: c.redis === true };
}

export interface LessonInfo {
  /** `03-first-conversation` */
  slug: string;
  /** `03` */
  number: string;
  /** Absolute path of lessons/NN-slug/. */
  dir: string;
  meta: LessonMeta;
}

/** Every lesson folder, in order. */
export function listLessons(root: string = LESSONS_DIR): LessonInfo[] {
  return readdirSync(root)
    .filter((name) => LESSON_FOLDER.test(name) && statSync(join(root, name)).isDirectory())
    .sort()
    .map((slug) => lessonInfo(join(root, slug)));
}

export function lessonInfo(dir: string): LessonInfo {
  const slug = dir.replace(/[\\/]+$/, '').split(/[\\/]/).pop()!;
  const m = LESSON_FOLDER.exec(slug);
  if (!m) throw new Error(`${dir} is not a lesson folder: its name must look like 03-first-conversation.`);
  const metaFile = join(dir, 'lesson.json');
  const raw = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as Partial<Omit<LessonMeta, 'cluster'>> & { cluster?: unknown }) : {};
  const cluster = clusterOf(raw.cluster);
  return { slug, number: m[1]!, dir, meta: { starterPasses: raw.starterPasses ?? true, courseStarter: raw.courseStarter ?? false, ...(cluster ? { cluster } : {}) } };
}

const FENCE = /^(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const STEP = /^###\s+Step\s+(\d+)\b\s*[:.\-–—]?\s*(.*)$/i;

/** A closing fence: the opening's character, at least as many times, and nothing else. */
function closes(line: string, fence: string): boolean {
  const t = line.trim();
  return t.length >= fence.length && t === fence[0]!.repeat(t.length);
}

/** `file=client.js throws=InvalidStateError norun` -> { file: 'client.js', throws: ..., norun: true } */
export function parseAttrs(info: string): Record<string, string | true> {
  const attrs: Record<string, string | true> = {};
  for (const m of info.matchAll(/([A-Za-z][\w-]*)(?:=("[^"]*"|\S+))?/g)) {
    const value = m[2];
    attrs[m[1]!] = value === undefined ? true : value.replace(/^"|"$/g, '');
  }
  return attrs;
}

/** Fenced code blocks of a Markdown text; `lineOffset` is added to their line numbers. */
export function codeBlocks(md: string, lineOffset = 0): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !closes(lines[i]!, fence); i++) body.push(lines[i]!);
    const attrs = parseAttrs(open[3] ?? '');
    const file = typeof attrs.file === 'string' ? attrs.file : null;
    delete attrs.file;
    blocks.push({ lang: open[2] ?? '', file, attrs, code: body.join('\n') + '\n', line: start + 1 + lineOffset });
  }
  return blocks;
}

/** lesson.md: a `# Title`, an introduction, then `### Step N: title` sections. */
export function parseLesson(md: string): LessonText {
  const lines = md.split('\n');
  let title = '';
  const intro: string[] = [];
  const steps: Array<{ n: number; title: string; lines: string[]; start: number }> = [];
  let inFence: string | null = null;
  lines.forEach((line, i) => {
    const fence = FENCE.exec(line);
    if (fence) {
      if (inFence === null) inFence = fence[1]!;
      else if (closes(line, inFence)) inFence = null;
    }
    const step = inFence === null ? STEP.exec(line) : null;
    if (step) {
      steps.push({ n: Number(step[1]), title: step[2]!.trim(), lines: [], start: i + 1 });
      return;
    }
    if (!title && inFence === null && /^#\s+/.test(line) && steps.length === 0) {
      title = line.replace(/^#\s+/, '').trim();
      return;
    }
    (steps.length ? steps[steps.length - 1]!.lines : intro).push(line);
  });
  return {
    title,
    intro: intro.join('\n').trim(),
    steps: steps.map((s) => {
      const body = s.lines.join('\n').trim();
      return { n: s.n, title: s.title, body, blocks: codeBlocks(s.lines.join('\n'), s.start) };
    }),
  };
}

/** hints.md: `### Hint N` sections, revealed one at a time. Returns their Markdown, in order. */
export function parseHints(md: string): string[] {
  const hints: string[] = [];
  let current: string[] | null = null;
  for (const line of md.split('\n')) {
    if (/^###\s+Hint\s+\d+\b/i.test(line)) {
      current = [];
      hints.push('');
      continue;
    }
    if (current) {
      current.push(line);
      hints[hints.length - 1] = current.join('\n').trim();
    }
  }
  return hints;
}

export function readLesson(dir: string): LessonText {
  return parseLesson(readFileSync(join(dir, 'lesson.md'), 'utf8'));
}

export function readHints(dir: string): string[] {
  const file = join(dir, 'hints.md');
  return existsSync(file) ? parseHints(readFileSync(file, 'utf8')) : [];
}
