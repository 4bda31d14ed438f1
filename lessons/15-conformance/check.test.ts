import { runServerCases } from '../../server/conformance/runner.ts';
import { GROUP_TITLES, type CaseGroup, type CaseResult, type Report } from '../../server/conformance/types.ts';
import { check, must, useLesson } from '../harness.ts';

// The check judges server.js with the ladder's own cases (server/conformance/), through the
// check's wiretap, whatever client.js does: the cases are the clients.
const lesson = useLesson(import.meta.url, { client: false });

/**
 * The cases that teach each rung, a few seconds in all (the Conformance tab runs every case of
 * groups 1-7). Each rung has cases a half-right server passes and the case that catches it; a
 * crash is caught by the valid cases that follow the bad frame (2.6 after 2.5), which meet no
 * server.
 */
const RUNGS: Record<Exclude<CaseGroup, 9 | 12 | 13>, { cases: string[]; sentence: string; hint: number }> = {
  1: { cases: ['1.1.1', '1.1.2', '1.1.3', '1.2.1', '1.2.2', '1.2.3'], sentence: 'text and binary messages come back as they were sent, and nothing else', hint: 1 },
  2: { cases: ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'], sentence: 'each ping gets its pong, and a frame that breaks the protocol closes the connection, not the server', hint: 2 },
  3: { cases: ['3.1', '3.2', '3.3'], sentence: 'a frame with a reserved bit set fails the connection', hint: 2 },
  4: { cases: ['4.1.1', '4.2.1'], sentence: 'a reserved opcode fails the connection', hint: 2 },
  5: { cases: ['5.1', '5.3', '5.6', '5.9', '5.15'], sentence: 'fragmented messages come back whole, and fragmented control frames fail the connection', hint: 2 },
  6: { cases: ['6.2.1', '6.2.2', '6.2.3', '6.3.1', '6.4.1'], sentence: 'valid UTF-8 comes back unchanged, and invalid UTF-8 closes with 1007', hint: 3 },
  7: { cases: ['7.1.1', '7.3.1', '7.5.1', '7.7.1', '7.9.1', '7.9.2', '7.9.3', '7.9.4', '7.9.5'], sentence: 'a close is answered with a close, and a close code nobody may send is refused', hint: 2 },
};

const SPEC = Object.values(RUNGS)
  .flatMap((r) => r.cases)
  .join(',');

let report: Promise<Report> | undefined;
/** One run of the cases for every check of the file (each rung reads its own results). */
const ladder = () => (report ??= runServerCases({ url: `ws://127.0.0.1:${lesson.tapPort}`, cases: SPEC }));

/** A case that found no server: the runner got no WebSocket connection at all. */
const metNoServer = (r: CaseResult) => /^No WebSocket connection/.test(r.observed);

/**
 * The case server.js died in, when it crashed: the last one it answered before the first that
 * met no server. Null when it did not crash (or no case met the dead server).
 */
function crashCase(all: CaseResult[]): { crash: CaseResult; next: CaseResult } | null {
  if (lesson.server?.state.status !== 'crashed') return null;
  const i = all.findIndex(metNoServer);
  return i > 0 ? { crash: all[i - 1]!, next: all[i]! } : null;
}

for (const [g, rung] of Object.entries(RUNGS)) {
  const group = Number(g) as keyof typeof RUNGS;
  check(`rung ${group}, ${GROUP_TITLES[group].replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase())}: ${rung.sentence} (cases ${rung.cases.join(', ')})`, { hint: rung.hint, timeout: 120_000 }, async () => {
    const all = (await ladder()).cases;
    const mine = all.filter((r) => r.group === group);
    must(mine.length === rung.cases.length, `The ladder ran ${mine.length} of the ${rung.cases.length} cases of rung ${group}: ${mine.map((r) => r.id).join(', ') || 'none'}.`);
    const failed = mine.filter((r) => r.verdict === 'FAIL');
    const first = failed[0];
    if (!first) return;
    const crashed = crashCase(all);
    const list = failed.length === 1 ? `Case ${first.id}` : `${failed.length} cases failed (${failed.map((r) => r.id).join(', ')}); the first, case ${first.id}`;
    if (crashed && metNoServer(first)) {
      const { crash } = crashed;
      must(
        false,
        `${list}, met no server: server.js crashed in case ${crash.id} (rung ${crash.group}), the last case it answered.\n` +
          `Case ${crash.id}: ${crash.description}\nWhat your server did: ${crash.observed}\n` +
          'A frame that breaks the protocol must close that one connection (ws sends the close code), not end the process with every connection on it. ' +
          `Run case ${crash.id} in the Conformance tab to see its frames.`,
      );
    }
    must(false, `${list}: ${first.description}\nA conforming server: ${first.expectation}\nYours: ${first.observed}\nRun case ${first.id} in the Conformance tab to see its frames.`);
  });
}
