/**
 * Insights stay silent on correct programs: every lesson's solution/ and its corpus' right
 * entries, run the way a learner's check runs them (`npm run check`: the lesson's server.js
 * behind a wiretap, client.js with browser semantics, and the check's own probes), with the
 * harness writing every insight of the run to WSPLAY_INSIGHTS_OUT (lessons/harness/lesson-run.ts).
 *
 * The checks also play the bad peer on purpose (lesson 12 knocks with a foreign Origin, lesson 10
 * freezes a client so the server's heartbeat finds it dead, lesson 09 resets a connection): an
 * insight about what the check's own peer did is right, and is listed in EXPECTED with the reason.
 * Anything else is an insight on a correct program: a false alarm.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InsightEvent } from '../../server/capture/events.ts';
import { readCorpus } from '../../lessons/harness/corpus.ts';
import { copyFiles } from '../../lessons/harness/workspace.ts';
import { ROOT } from '../helpers/net.ts';

const LESSONS = join(ROOT, 'lessons');
const tmp = mkdtempSync(join(tmpdir(), 'wsplay-insights-lessons-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const slugs = readdirSync(LESSONS).filter((d) => /^\d\d-/.test(d) && existsSync(join(LESSONS, d, 'check.test.ts')));

/** Insights a check provokes on purpose with its own peer, by lesson: the rule and why it is right. */
const EXPECTED: Record<string, Array<{ rule: InsightEvent['rule']; why: string }>> = {
  '10-heartbeats': [{ rule: 'no-pong', why: "the check freezes its second client (SIGSTOP): the server's pings go unanswered, and its heartbeat ends the connection" }],
  '15-conformance': [
    { rule: 'close-code-misused', why: "the conformance cases of group 7 send reserved close codes (0, 999, 1004, 1005, 1006 ...) on purpose, to see the server fail the connection with 1002" },
  ],
};

interface Run {
  passed: boolean;
  failures: string[];
  insights: Array<{ slug: string; insight: InsightEvent }>;
}

/** `npm run check` over a workspace whose lesson folders are filled by `fill`; the insights it saw. */
function runChecks(name: string, fill: (slug: string, dir: string) => boolean): Promise<Run> {
  const workspace = join(tmp, name);
  const numbers = slugs.filter((s) => fill(s, join(workspace, s))).map((s) => s.slice(0, 2));
  const out = join(tmp, `${name}.jsonl`);
  const report = join(tmp, `${name}.json`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'lessons/vitest.config.ts', ...numbers, '--maxWorkers=3', '--reporter=json', `--outputFile=${report}`],
      { cwd: ROOT, env: { ...env, WSPLAY_WORKSPACE: workspace, WSPLAY_INSIGHTS_OUT: out, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.on('exit', () => {
      if (!existsSync(report)) return reject(new Error(`npm run check (${name}) wrote no report:\n${stderr.slice(-2000)}`));
      const r = JSON.parse(readFileSync(report, 'utf8')) as { testResults: Array<{ name: string; assertionResults: Array<{ status: string; title: string }> }> };
      const failures = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${f.name.split('/').at(-2)}: ${a.title}`));
      const insights = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run['insights'][number]) : [];
      resolve({ passed: failures.length === 0, failures, insights });
    });
  });
}

/** The insights a correct program should not have caused: all of them but the EXPECTED ones. */
function unexpected(run: Run): string[] {
  return run.insights
    .filter(({ slug, insight }) => !(EXPECTED[slug] ?? []).some((x) => x.rule === insight.rule))
    .map(({ slug, insight }) => `${slug} #${insight.conn} ${insight.rule}: ${insight.message}`);
}

describe('insights on correct programs', () => {
  it("say nothing about any lesson's solution/ under its check", async () => {
    const run = await runChecks('solution', (slug, dir) => {
      copyFiles(join(LESSONS, slug, 'solution'), dir);
      return true;
    });
    expect(run.failures, 'the solutions must pass their checks, or this run proves nothing').toEqual([]);
    expect(unexpected(run)).toEqual([]);
  }, 900_000);

  it("say nothing about the corpus' right entries under their checks", async () => {
    const most = Math.max(...slugs.map((s) => readCorpus(join(LESSONS, s)).corpus.right.length));
    const found: string[] = [];
    for (let i = 0; i < most; i++) {
      const run = await runChecks(`right-${i}`, (slug, dir) => {
        const entry = readCorpus(join(LESSONS, slug)).corpus.right[i];
        if (!entry) return false;
        copyFiles(join(LESSONS, slug, 'solution'), dir);
        copyFiles(join(LESSONS, slug, 'corpus', entry.name), dir, true);
        return true;
      });
      // A right entry that failed its check (a loaded machine) still ran: its insights count.
      found.push(...unexpected(run));
    }
    expect(found).toEqual([]);
  }, 1_800_000);
});
