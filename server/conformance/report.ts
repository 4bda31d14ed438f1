/** The ladder's report for a terminal: one line per case that did not pass, a table per group. */
import { GROUP_TITLES, VERDICTS, type CaseGroup, type CaseResult, type Report, type Verdict } from './types.ts';

const SHORT: Record<Verdict, string> = { PASS: 'PASS', 'NON-STRICT': 'NON-STRICT', FAIL: 'FAIL', INFORMATIONAL: 'INFO', UNIMPLEMENTED: 'UNIMPL' };

/** "6.4.1  NON-STRICT  18 ms  The peer failed …" — cut to `width` characters. */
export function caseLine(r: CaseResult, width = 160): string {
  const why = r.verdict === 'NON-STRICT' && r.nonStrictWhy ? r.nonStrictWhy : r.observed;
  const line = `${r.id.padEnd(8)} ${SHORT[r.verdict].padEnd(10)} ${`${r.durationMs} ms`.padStart(8)}  ${why}`;
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Counts per group and verdict, with each group's time: the table under the case lines. */
export function summaryTable(report: Report): string {
  const groups = new Map<CaseGroup, CaseResult[]>();
  for (const c of report.cases) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  const head = `${'group'.padEnd(36)}${'cases'.padStart(6)}${VERDICTS.map((v) => SHORT[v].padStart(11)).join('')}${'time'.padStart(10)}`;
  const rows = [...groups.entries()].map(([g, cs]) => {
    const counts = VERDICTS.map((v) => String(cs.filter((c) => c.verdict === v).length).padStart(11)).join('');
    const ms = cs.reduce((t, c) => t + c.durationMs, 0);
    return `${`${g} ${GROUP_TITLES[g]}`.padEnd(36)}${String(cs.length).padStart(6)}${counts}${`${(ms / 1000).toFixed(1)} s`.padStart(10)}`;
  });
  const all = report.cases;
  const total = `${'all'.padEnd(36)}${String(all.length).padStart(6)}${VERDICTS.map((v) => String(all.filter((c) => c.verdict === v).length).padStart(11)).join('')}${`${(all.reduce((t, c) => t + c.durationMs, 0) / 1000).toFixed(1)} s`.padStart(10)}`;
  return [head, ...rows, total].join('\n');
}

export const failed = (report: Report): CaseResult[] => report.cases.filter((c) => c.verdict === 'FAIL');
