/**
 * A lesson's corpus (lessons/README.md, "The corpus"): realistic wrong solutions, each with the
 * mistake it makes and the check that must catch it first, and right solutions written
 * differently from solution/. Each entry is a folder of the files it changes; the rest comes from
 * solution/. The integrity test runs every entry through the lesson's check.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface WrongEntry {
  /** Folder name under corpus/. */
  name: string;
  /** One line: what is wrong with it. */
  mistake: string;
  /** Part of the sentence of the first check (in file order) that must fail on it. */
  check: string;
  /** That check's hint number in hints.md. */
  hint: number;
}

export interface RightEntry {
  name: string;
  /** One line: how it differs from solution/. */
  note: string;
}

export interface Corpus {
  wrong: WrongEntry[];
  right: RightEntry[];
}

const ENTRY_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * The corpus of a lesson folder, checked for shape: every problem is named in `problems` (an
 * empty list means the corpus is well formed). A missing corpus is a problem too.
 */
export function readCorpus(lessonDir: string): { corpus: Corpus; problems: string[] } {
  const problems: string[] = [];
  const file = join(lessonDir, 'corpus', 'corpus.json');
  const corpus: Corpus = { wrong: [], right: [] };
  if (!existsSync(file)) return { corpus, problems: [`no corpus/corpus.json`] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { corpus, problems: [`corpus/corpus.json is not JSON: ${(err as Error).message}`] };
  }
  const obj = (raw ?? {}) as { wrong?: unknown; right?: unknown };
  const list = (v: unknown, key: string): Record<string, unknown>[] => {
    if (!Array.isArray(v)) {
      problems.push(`corpus.json: "${key}" is not a list`);
      return [];
    }
    return v.filter((e, i) => {
      const ok = typeof e === 'object' && e !== null;
      if (!ok) problems.push(`corpus.json: ${key}[${i}] is not an object`);
      return ok;
    }) as Record<string, unknown>[];
  };
  const names = new Set<string>();
  const entryDir = (name: unknown, where: string): name is string => {
    if (typeof name !== 'string' || !ENTRY_NAME.test(name)) {
      problems.push(`${where}: "name" must be lowercase words with dashes`);
      return false;
    }
    if (names.has(name)) problems.push(`${where}: "${name}" is listed twice`);
    names.add(name);
    const dir = join(lessonDir, 'corpus', name);
    if (!existsSync(dir) || !statSync(dir).isDirectory() || readdirSync(dir).length === 0) {
      problems.push(`${where}: corpus/${name}/ is missing or empty`);
      return false;
    }
    return true;
  };
  const text = (v: unknown) => typeof v === 'string' && v.trim().length > 0;
  list(obj.wrong, 'wrong').forEach((e, i) => {
    const where = `wrong[${i}]`;
    if (!entryDir(e.name, where)) return;
    if (!text(e.mistake)) problems.push(`${where} (${e.name}): "mistake" must say what is wrong in one line`);
    if (!text(e.check)) problems.push(`${where} (${e.name}): "check" must quote the check that catches it`);
    if (!Number.isInteger(e.hint) || (e.hint as number) < 1) problems.push(`${where} (${e.name}): "hint" must be a hint number`);
    corpus.wrong.push({ name: e.name as string, mistake: String(e.mistake ?? ''), check: String(e.check ?? ''), hint: Number(e.hint) });
  });
  list(obj.right, 'right').forEach((e, i) => {
    const where = `right[${i}]`;
    if (!entryDir(e.name, where)) return;
    if (!text(e.note)) problems.push(`${where} (${e.name}): "note" must say how it differs from solution/`);
    corpus.right.push({ name: e.name as string, note: String(e.note ?? '') });
  });
  return { corpus, problems };
}

/** The files of an entry (names), which replace the solution's. */
export function entryFiles(lessonDir: string, name: string): string[] {
  const dir = join(lessonDir, 'corpus', name);
  return readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
}
