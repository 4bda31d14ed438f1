import { signal } from '@preact/signals';
import type { Direction, InsightEvent } from '../../../server/capture/events.ts';
import { clientMarkers, consoleLog, linkVersion, posIsStale, runner, type SendRecord } from '../runner/run-client.ts';
import { model, version } from '../state.ts';
import type { AnalyzeResult, CodeInsight } from './analyze.ts';
import { INSIGHT_RULES } from '../../../server/insights/rules.ts';
import { CODE_RULES } from './rules.ts';

/**
 * The page's side of the insights in the code: what the analyzer found in each file (set by
 * monaco.ts as the learner types), and, once the code ran, what it did on the wire: the sends of
 * the last run at a finding's line (run-client.ts knows each send's line and its frame), or the
 * frames the matching wire insight cites (server/insights/). No Monaco here: the list and the
 * markers both read it.
 */

export type CodeFile = 'client.js' | 'server.js';
export const CODE_FILES: CodeFile[] = ['client.js', 'server.js'];

export interface FileInsights {
  list: CodeInsight[];
  skipped: string | null;
  dropped: number;
}

export const codeInsights = signal<Partial<Record<CodeFile, FileInsights>>>({});

export function setFileInsights(file: CodeFile, r: AnalyzeResult): void {
  const prev = codeInsights.peek()[file];
  // Same findings at the same places (most keystrokes): no re-render, no marker churn.
  if (prev && prev.skipped === r.skipped && prev.dropped === r.dropped && sameList(prev.list, r.insights)) return;
  codeInsights.value = { ...codeInsights.peek(), [file]: { list: r.insights, skipped: r.skipped, dropped: r.dropped } };
}

function sameList(a: CodeInsight[], b: CodeInsight[]): boolean {
  return a.length === b.length && a.every((x, i) => x.rule === b[i]!.rule && x.from === b[i]!.from && x.to === b[i]!.to && x.message === b[i]!.message);
}

/** Applies a finding's quick fix in the editor (monaco.ts registers it: the list must not load Monaco or acorn). */
let fixer: ((file: CodeFile, i: CodeInsight) => boolean) | null = null;
export function setFixer(fn: typeof fixer): void {
  fixer = fn;
}
export function applyFix(file: CodeFile, i: CodeInsight): boolean {
  return fixer ? fixer(file, i) : false;
}

// ---- what the code did once it ran ---------------------------------------------------------------

export interface FrameRef {
  conn: number;
  dir: Direction;
  seq: number;
}

export interface Evidence {
  /** One line: what the last run did at this place, or what the wire shows. */
  summary: string;
  /** Frames to show (at most MAX_FRAMES). */
  frames: FrameRef[];
  /** The wire insight it comes from, when it does (its handshake, when it cites no frame). */
  wire?: InsightEvent;
}

const MAX_FRAMES = 3;

/** Bumped (at most every EVIDENCE_MS) when a run, a link or an event may change the evidence. */
export const evidenceVersion = signal(0);
const EVIDENCE_MS = 400;
let evidenceTimer: ReturnType<typeof setTimeout> | null = null;
function evidenceChanged(): void {
  if (evidenceTimer) return;
  // Events come in thousands a second: the evidence is looked at again a few times a second at most.
  evidenceTimer = setTimeout(() => {
    evidenceTimer = null;
    evidenceVersion.value++;
  }, EVIDENCE_MS);
}
version.subscribe(evidenceChanged);
linkVersion.subscribe(evidenceChanged);
consoleLog.subscribe(evidenceChanged);
clientMarkers.subscribe(evidenceChanged);

/** The last run's sends at lines [from, to] of client.js, while the editor holds the text it ran. */
function sendsAt(from: number, to: number): SendRecord[] {
  const run = runner.peek().runs;
  if (run === 0 || posIsStale(run)) return [];
  const out: SendRecord[] = [];
  for (const e of consoleLog.peek()) {
    if (e.kind === 'send' && e.run === run && e.send.pos && e.send.pos.line >= from && e.send.pos.line <= to) out.push(e.send);
  }
  return out;
}

/** The last run's runtime error marked on this line (InvalidStateError for an early send), if any. */
export function runtimeErrorAt(line: number): string | null {
  return clientMarkers.peek().find((m) => m.line === line)?.message ?? null;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What a finding did on the wire once the code ran, or null when nothing is known. */
export function evidenceFor(file: CodeFile, i: CodeInsight): Evidence | null {
  if (file === 'client.js' && (i.rule === 'send-before-open' || i.rule === 'object-send')) {
    const sends = sendsAt(i.start.line, i.end.line);
    const threw = runtimeErrorAt(i.start.line);
    if (sends.length > 0 || threw) {
      const notSent = sends.filter((s) => s.status === 'not-sent');
      const linked = sends.filter((s) => s.status === 'linked' && s.conn !== null && s.frame !== null);
      const frames = linked.slice(0, MAX_FRAMES).map((s) => ({ conn: s.conn!, dir: 'client' as const, seq: s.frame! }));
      const parts: string[] = [];
      if (threw) parts.push(`the last run threw here: ${threw}`);
      if (notSent.length > 0) parts.push(`${plural(notSent.length, 'call')} not sent (${notSent[0]!.why ?? 'no frame'}), no frame on the wire`);
      if (linked.length > 0) {
        const shown = i.rule === 'object-send' && linked[0]!.text !== undefined ? `: the payload reads ${JSON.stringify(linked[0]!.text.slice(0, 40))}` : '';
        parts.push(`the last run put ${plural(linked.length, 'message')} on the wire from this line${shown}`);
      }
      if (parts.length > 0) return { summary: parts.join('; '), frames };
    }
  }
  const wireRule = CODE_RULES[i.rule].wire;
  if (!wireRule) return null;
  // The newest wire insight of the matching rule: the frames the running code caused.
  let wire: InsightEvent | undefined;
  for (let k = model.insights.length - 1; k >= 0; k--) {
    if (model.insights[k]!.rule === wireRule) {
      wire = model.insights[k];
      break;
    }
  }
  if (!wire) return null;
  const frames: FrameRef[] = [];
  for (const dir of ['client', 'server'] as const) for (const seq of wire.frames[dir]) if (frames.length < MAX_FRAMES) frames.push({ conn: wire.conn, dir, seq });
  return { summary: `on the wire: ${INSIGHT_RULES[wire.rule]?.title ?? wire.rule} on connection #${wire.conn}`, frames, wire };
}
