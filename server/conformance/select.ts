/**
 * Autobahn-style case selection: "1-7" (groups 1 to 7), "5.*" or "5" (a group), "6.4" (a
 * sub-group), "6.4.1" (one case), "6.4.1-6.4.3" (a range of ids), comma-separated.
 */
import { CASES } from './cases.ts';
import type { CaseDef } from './types.ts';

export class SelectionError extends Error {}

const parts = (id: string): number[] => id.split('.').map(Number);

function compareIds(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Does `id` fall under the prefix `p` ("6.4" covers "6.4.1", not "6.40.1")? */
const under = (id: string, p: string): boolean => id === p || id.startsWith(`${p}.`);

/** The cases a spec names, in ladder order; every case when the spec is empty or absent. */
export function selectCases(spec?: string, all: readonly CaseDef[] = CASES): CaseDef[] {
  if (!spec || !spec.trim()) return [...all];
  const picked = new Set<string>();
  for (const raw of spec.split(',')) {
    const item = raw.trim().replace(/\.\*$/, '');
    if (!item) continue;
    if (!/^\d+(\.\d+)*(-\d+(\.\d+)*)?$/.test(item)) {
      throw new SelectionError(`"${raw.trim()}" is not a case list item: write ids and ranges as Autobahn does, e.g. 1-7, 5.*, 6.4, 6.4.1 or 9.1.1-9.1.3.`);
    }
    let hits: readonly CaseDef[];
    if (item.includes('-')) {
      const [from, to] = item.split('-') as [string, string];
      // "1-7" spans whole groups; "6.4.1-6.4.3" spans ids, each end taken as a prefix.
      hits = all.filter((c) => (compareIds(c.id, from) >= 0 || under(c.id, from)) && (compareIds(c.id, to) <= 0 || under(c.id, to)));
    } else {
      hits = all.filter((c) => under(c.id, item));
    }
    if (hits.length === 0) {
      const groups = [...new Set(all.map((c) => c.group))].join(', ');
      throw new SelectionError(`No case matches "${raw.trim()}": the groups are ${groups}; ids look like 6.4.1.`);
    }
    for (const c of hits) picked.add(c.id);
  }
  return all.filter((c) => picked.has(c.id));
}
