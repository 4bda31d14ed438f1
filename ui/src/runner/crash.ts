/**
 * What a learner needs first from a crashed server's error output (Node's stderr): the error
 * line ("TypeError: x is not a function") and where in their own files it was thrown. The whole
 * stack stays in the console; this is its summary.
 */

export interface CrashSummary {
  /** The error's own line, as Node printed it, or null when none was recognised. */
  error: string | null;
  /** The first place in one of `files` the stack names (column null: Node's header gives none). */
  at: { file: string; line: number; column: number | null } | null;
}

/** `TypeError: …`, `Error [ERR_X]: …`, `SyntaxError: …`, `[UnhandledPromiseRejection: …`. */
const ERROR_LINE = /^\[?(?:Uncaught\s+)?(?:[A-Z][\w$.]*)?(?:Error|Exception|Rejection)\b(?:\s*\[\w+\])?(?::|$)/;
/** A stack frame: `at fn (/path/file.js:7:11)` or `at /path/file.js:7:11`. */
const FRAME = /^\s*at\s+(?:.*?\()?(.+?):(\d+):(\d+)\)?\s*$/;
/** Node's first line for an uncaught error: `/path/file.js:7`. */
const HEADER = /^(.+?):(\d+)\s*$/;

function baseName(p: string): string {
  return p.replace(/^file:\/\//, '').split(/[\\/]/).pop() ?? p;
}

function ownFile(p: string, files: readonly string[]): string | null {
  if (p.startsWith('node:') || /[\\/]node_modules[\\/]/.test(p)) return null;
  const name = baseName(p);
  return files.includes(name) ? name : null;
}

export function summarizeCrash(stack: string, files: readonly string[]): CrashSummary {
  const lines = stack.split('\n');
  const error = lines.map((l) => l.trim()).find((l) => ERROR_LINE.test(l)) ?? null;
  let at: CrashSummary['at'] = null;
  for (const l of lines) {
    const m = FRAME.exec(l);
    const file = m ? ownFile(m[1]!, files) : null;
    if (m && file) {
      at = { file, line: Number(m[2]), column: Number(m[3]) };
      break;
    }
  }
  if (!at) {
    const m = HEADER.exec(lines.find((l) => l.trim().length > 0) ?? '');
    const file = m ? ownFile(m[1]!, files) : null;
    if (m && file) at = { file, line: Number(m[2]), column: null };
  }
  return { error, at };
}
