/**
 * The lessons over HTTP (server/app/lesson-routes.ts), composed as `wsplay start` does it
 * (server/cli.ts): a Workspace in a temp folder, the learner's server in a LearnerServer behind
 * the wiretap, the LearnerBridge, the ActiveWorkspace that moves them into a lesson's folder,
 * and the dashboard. The checks are the real lessons' checks (lessons/NN-slug/check.test.ts),
 * run by the Check endpoint in a vitest child process against the temp workspace.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ActiveWorkspace } from '../../server/app/active-workspace.ts';
import { startDashboard, type Dashboard } from '../../server/app/dashboard.ts';
import { LearnerBridge } from '../../server/app/learner-bridge.ts';
import type { CheckResult } from '../../server/app/lesson-check.ts';
import type { Progress } from '../../server/app/lesson-progress.ts';
import type { HintsReply, LessonDoc, LessonList, SolutionReply } from '../../server/app/lesson-routes.ts';
import { readHints } from '../../lessons/harness/format.ts';
import type { FileInfo, StreamMessage } from '../../server/app/stream-protocol.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { LearnerServer, type RunnerState } from '../../server/runner/learner-server.ts';
import { STARTERS_DIR, Workspace } from '../../server/runner/workspace.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { Cleanup, connect, HOST, ROOT, until, type Client } from '../helpers/net.ts';

const LESSON = '04-sending-too-early';
const LESSON_DIR = join(ROOT, 'lessons', LESSON);
const lessonFile = (part: 'starter' | 'solution', name: string) => readFileSync(join(LESSON_DIR, part, name), 'utf8');
/** The lesson's hints as hints.md has them: the route must hand them over exactly, one at a time. */
const hintText = readHints(LESSON_DIR);

const base = realpathSync(mkdtempSync(join(tmpdir(), 'wsplay-lessons-')));
const root = join(base, 'workspace');
const cleanup = new Cleanup();

afterAll(async () => {
  await cleanup.run();
  rmSync(base, { recursive: true, force: true });
});

interface Playground {
  dashboard: Dashboard;
  learner: LearnerServer;
  bridge: LearnerBridge;
  lessons: ActiveWorkspace;
  states: RunnerState[];
  /** A dashboard page's stream, as a page sees it. */
  page: Client;
  messages(): StreamMessage[];
  close(): Promise<void>;
}

/** `wsplay start --workspace <root>`, in this process, on ephemeral ports. */
async function startPlayground(): Promise<Playground> {
  const local = new Cleanup();
  const uiDir = join(base, 'ui');
  mkdirSync(uiDir, { recursive: true });
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>wsplay</title>');
  const workspace = new Workspace(root);
  const learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900 });
  const states: RunnerState[] = [];
  learner.on('state', (s: RunnerState) => states.push(s));
  const tap = new Wiretap({ port: 0, target: { host: HOST, port: 9 } });
  local.add(() => tap.close());
  await tap.listen();
  const topology = () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'your server (server.js)' });
  const bridge = new LearnerBridge(tap, workspace, learner, topology);
  local.add(() => bridge.close());
  const lessons = new ActiveWorkspace(bridge);
  await lessons.restore();
  const first = await learner.start();
  expect(first.status, JSON.stringify(first)).toBe('running');
  const dashboard = await startDashboard({
    port: 0,
    store: new CaptureStore(),
    connections: () => tap.connections,
    topology,
    uiDir,
    workspace: () => bridge.workspace,
    lessons,
    learner,
    extraHistory: () => bridge.extraHistory(),
  });
  local.add(() => dashboard.close());
  bridge.attach(dashboard.stream);
  const page = await connect(`ws://127.0.0.1:${dashboard.port}/api/events?token=${encodeURIComponent(dashboard.token)}`, { origin: `http://127.0.0.1:${dashboard.port}` });
  local.add(() => page.ws.terminate());
  const pg: Playground = {
    dashboard,
    learner,
    bridge,
    lessons,
    states,
    page,
    messages: () => page.messages.map((m) => JSON.parse(m) as StreamMessage),
    close: () => local.run(),
  };
  cleanup.add(() => pg.close());
  return pg;
}

function api(pg: Playground) {
  const url = (path: string) => `http://127.0.0.1:${pg.dashboard.port}${path}`;
  const headers = { 'X-Wsplay-Token': pg.dashboard.token, Origin: `http://127.0.0.1:${pg.dashboard.port}` };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(url(path), {
      method,
      headers: body === undefined ? headers : { ...headers, 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Plain text (a file).
    }
    return { status: res.status, body: parsed as T };
  };
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string) => call<T>('POST', path),
    put: <T>(path: string, body: unknown) => call<T>('PUT', path, body),
    /** /workspace/NAME with the token, as the editor's Worker loads the client. */
    workspaceFile: async (name: string) => (await fetch(url(`/workspace/${name}`), { headers })).text(),
  };
}

const names = (files: FileInfo[]) => files.map((f) => f.name);

describe('lessons in the dashboard', () => {
  let pg: Playground;
  let http: ReturnType<typeof api>;

  it('lists every lesson with its title and step count, nothing done in a fresh workspace', async () => {
    pg = await startPlayground();
    http = api(pg);
    const { status, body } = await http.get<LessonList>('/api/lessons');
    expect(status).toBe(200);
    expect(body.active).toBeNull();
    const slugs = readdirSync(join(ROOT, 'lessons')).filter((n) => /^\d{2}-/.test(n));
    expect(body.lessons.map((l) => l.id)).toEqual(slugs.sort());
    const four = body.lessons.find((l) => l.id === LESSON)!;
    expect(four).toMatchObject({ number: '04', title: 'Sending too early', steps: 5, hints: 3, stepsDone: [], done: false, lastCheck: null });
  });

  it('opens a lesson: the files, the Worker URL and the server all move to its folder, and pages are told', async () => {
    const before = pg.learner.state;
    const opened = await http.post<{ lesson: string; files: FileInfo[]; dir: string; runner: RunnerState }>(`/api/lessons/04/open`);
    expect(opened.status).toBe(200);
    const dir = join(root, LESSON);
    expect(opened.body).toMatchObject({ lesson: LESSON, dir, runner: { status: 'running' } });
    expect(names(opened.body.files)).toEqual(['client.js', 'server.js']);
    // The server runs again, in the lesson's folder (a new process).
    expect(pg.learner.cwd).toBe(dir);
    expect(opened.body.runner.pid).not.toBe(before.pid);

    // Seeded from the lesson's starter; the free playground's files are untouched.
    expect((await http.get<string>('/api/files/client.js')).body).toBe(lessonFile('starter', 'client.js'));
    expect(await http.workspaceFile('client.js')).toBe(lessonFile('starter', 'client.js'));
    const mine = "// my own client\nconsole.log('mine');\n";
    expect((await http.put('/api/files/client.js', mine)).status).toBe(200);
    expect(readFileSync(join(dir, 'client.js'), 'utf8')).toBe(mine);
    expect(readFileSync(join(root, 'client.js'), 'utf8')).toBe(readFileSync(join(STARTERS_DIR, 'client.js'), 'utf8'));

    await until(
      () => pg.messages().find((m) => m.kind === 'workspace' && m.lesson === LESSON),
      5000,
      () => `a workspace message on the stream; got kinds ${pg.messages().map((m) => m.kind).join(' ')}`,
    );
    const list = await http.get<LessonList>('/api/lessons');
    expect(list.body.active).toBe(LESSON);

    // A lesson with a file of its own shows it as a tab (accept.js in lesson 02).
    const two = await http.post<{ lesson: string; files: FileInfo[] }>('/api/lessons/02-upgrade-handshake/open');
    expect(two.status).toBe(200);
    expect(names(two.body.files)).toContain('accept.js');
    expect(names((await http.get<FileInfo[]>('/api/files')).body)).toEqual(names(two.body.files));

    // Back to the free playground, then to lesson 04 again: the learner's edit is still there.
    const free = await http.post<{ lesson: null; files: FileInfo[]; dir: string }>('/api/lessons/free');
    expect(free.body).toMatchObject({ lesson: null, dir: root });
    expect(pg.learner.cwd).toBe(root);
    expect(await http.workspaceFile('client.js')).toBe(readFileSync(join(STARTERS_DIR, 'client.js'), 'utf8'));
    await http.post('/api/lessons/04/open');
    expect((await http.get<string>('/api/files/client.js')).body).toBe(mine);
  }, 30_000);

  it('gives the text in steps, and the hints one at a time, recording how many were revealed', async () => {
    const doc = await http.get<LessonDoc>(`/api/lessons/${LESSON}`);
    expect(doc.status).toBe(200);
    expect(doc.body.title).toBe('Sending too early');
    expect(doc.body.steps.map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
    expect(doc.body.steps[0]!.title).toBe('See the error');
    expect(doc.body.steps[0]!.body).toContain('```js file=client.js throws=InvalidStateError');
    expect(Object.keys(doc.body.starter)).toEqual(['client.js', 'server.js']);
    expect(doc.body.hints).toBe(3);
    // No hint text anywhere until asked.
    expect(JSON.stringify(doc.body)).not.toContain(hintText[1]!.slice(0, 60));

    const none = await http.get<HintsReply>(`/api/lessons/${LESSON}/hints`);
    expect(none.body).toEqual({ total: 3, revealed: 0, hints: [] });
    const one = await http.get<HintsReply>(`/api/lessons/${LESSON}/hints?upto=1`);
    expect(one.body.revealed).toBe(1);
    expect(one.body.hints.map((h) => h.n)).toEqual([1]);
    expect(one.body.hints[0]!.text).toBe(hintText[0]);
    // Asking again without upto gives what was revealed, no more.
    expect((await http.get<HintsReply>(`/api/lessons/${LESSON}/hints`)).body.hints.map((h) => h.n)).toEqual([1]);
    const two = await http.get<HintsReply>(`/api/lessons/${LESSON}/hints?upto=2`);
    expect(two.body.hints.map((h) => h.n)).toEqual([1, 2]);
    expect(two.body.hints[1]!.text).toBe(hintText[1]);
    expect((await http.get(`/api/lessons/${LESSON}/hints?upto=4`)).status).toBe(404);
    expect((await http.get(`/api/lessons/${LESSON}/hints?upto=zero`)).status).toBe(400);
    expect((await http.get<Progress>('/api/progress')).body.lessons[LESSON]!.hints).toBe(2);
  });

  it('refuses the solution before the learner tried (no check yet, not every hint read)', async () => {
    const refused = await http.post<{ error: string }>(`/api/lessons/${LESSON}/solution`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/opens once you have tried: run Check on your code, or read all 3 hints/);
    expect(JSON.stringify(refused.body)).not.toContain('socket.onopen');
    // Without the session token, no answer at all about it.
    const stranger = await fetch(`http://127.0.0.1:${pg.dashboard.port}/api/lessons/${LESSON}/solution`, { method: 'POST' });
    expect(stranger.status).toBeGreaterThanOrEqual(401);
    expect(stranger.status).toBeLessThan(404);
    expect(await stranger.text()).not.toContain('socket.onopen');
    expect((await http.get<Progress>('/api/progress')).body.lessons[LESSON]!.solutionShownAt).toBeNull();
    // The lesson says it has one, and what it asks the learner to predict.
    const doc = (await http.get<LessonDoc>(`/api/lessons/${LESSON}`)).body;
    expect(doc.hasSolution).toBe(true);
    expect(doc.predictions.map((p) => p.id)).toEqual(['timer-send']);
    expect(doc.problems).toEqual([]);
  });

  it('checks the starter: red, each check a sentence with the failure in words and the hint to read; one check at a time', async () => {
    writeFileSync(join(root, LESSON, 'client.js'), lessonFile('starter', 'client.js'));
    const checkDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('wsplay-check-'));
    const earlier = new Set(checkDirs());
    const running = http.post<CheckResult>(`/api/lessons/04/check`);
    // Once the first check runs (its report folder exists), a second one is refused.
    await until(() => (checkDirs().some((n) => !earlier.has(n)) ? true : undefined), 5000, () => 'the check to start');
    const second = await http.post<{ error: string }>(`/api/lessons/04/check`);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(/still running/);

    const { status, body } = await running;
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    expect(body.problem).toBeUndefined();
    const byName = new Map(body.checks.map((c) => [c.name, c]));
    const noError = byName.get('the client sends only once the socket is OPEN, never while CONNECTING (no InvalidStateError)')!;
    expect(noError).toMatchObject({ state: 'fail', hint: 1 });
    expect(noError.message).toMatch(/^client\.js line 7: InvalidStateError: .*Still in CONNECTING state\./);
    expect(noError.message).not.toMatch(/\bat must\b|lesson-run\.ts/);
    expect(byName.get("the client sends when the socket opens: its first frame follows the 101 at once, however long the handshake took")).toMatchObject({ state: 'fail', hint: 2 });
    expect(byName.get("the client printed the server's greeting too")).toMatchObject({ state: 'pass' });
    expect(body.passing).toBe(1);
    expect(body.total).toBe(4);

    const p = (await http.get<Progress>('/api/progress')).body.lessons[LESSON]!;
    expect(p.check).toMatchObject({ passed: false, passing: 1, total: 4 });
    expect(p.passedAt).toBeNull();
  }, 60_000);

  it('serves the solution once a check ran, and records that it was shown', async () => {
    const { status, body } = await http.post<SolutionReply>(`/api/lessons/${LESSON}/solution`);
    expect(status).toBe(200);
    expect(body.files['client.js']).toBe(lessonFile('solution', 'client.js'));
    expect(Object.keys(body.files)).toEqual(['client.js', 'server.js']);
    expect(body.progress.solutionShownAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const list = (await http.get<LessonList>('/api/lessons')).body;
    expect(list.lessons.find((l) => l.id === LESSON)!.solutionShown).toBe(true);
    // Asked again, the first time stays the one recorded.
    const again = await http.post<SolutionReply>(`/api/lessons/${LESSON}/solution`);
    expect(again.body.progress.solutionShownAt).toBe(body.progress.solutionShownAt);
  });

  it('keeps a prediction only when the lesson asks it and the choice is one of its choices', async () => {
    const ok = await http.put<Progress>('/api/progress', { lessons: { [LESSON]: { predictions: { 'timer-send': 'none' } } } });
    expect(ok.status).toBe(200);
    expect(ok.body.lessons[LESSON]!.predictions['timer-send']).toMatchObject({ choice: 'none' });
    const unknown = await http.put<{ error: string }>('/api/progress', { lessons: { [LESSON]: { predictions: { 'no-such': 'none' } } } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/asks no prediction "no-such" \(it asks: timer-send\)/);
    const badChoice = await http.put<{ error: string }>('/api/progress', { lessons: { [LESSON]: { predictions: { 'timer-send': 'maybe' } } } });
    expect(badChoice.status).toBe(400);
    expect(badChoice.body.error).toMatch(/has the choices frame, none, early/);
    expect((await http.put('/api/progress', { lessons: { [LESSON]: { predictions: ['none'] } } })).status).toBe(400);
    expect((await http.put('/api/progress', { lessons: { [LESSON]: { predictions: { 'timer-send': { choice: 'none' } } } } })).status).toBe(400);
    // Nothing of a refused request was written.
    expect((await http.get<Progress>('/api/progress')).body.lessons[LESSON]!.predictions).toEqual({ 'timer-send': ok.body.lessons[LESSON]!.predictions['timer-send'] });
  });

  it("checks the solution: green, and the lesson is done", async () => {
    for (const name of readdirSync(join(LESSON_DIR, 'solution'))) copyFileSync(join(LESSON_DIR, 'solution', name), join(root, LESSON, name));
    const { body } = await http.post<CheckResult>(`/api/lessons/${LESSON}/check`);
    expect(body.checks.filter((c) => c.state !== 'pass'), JSON.stringify(body, null, 2)).toEqual([]);
    expect(body).toMatchObject({ ok: true, passing: 4, total: 4 });
    const list = (await http.get<LessonList>('/api/lessons')).body;
    const four = list.lessons.find((l) => l.id === LESSON)!;
    expect(four.done).toBe(true);
    expect(four.passedAt).toBe(body.at);
    // A passing check counts every step done: the list never says "passed" beside "0 of 5 steps".
    expect(four.stepsDone).toEqual([1, 2, 3, 4, 5]);
    expect((await http.get<LessonDoc>(`/api/lessons/${LESSON}`)).body.progress.steps).toEqual([1, 2, 3, 4, 5]);
  }, 60_000);

  it('records the steps marked done, refusing steps the lesson does not have', async () => {
    const ok = await http.put<Progress>('/api/progress', { lessons: { [LESSON]: { steps: [2, 1] } } });
    expect(ok.status).toBe(200);
    expect(ok.body.lessons[LESSON]!.steps).toEqual([1, 2]);
    expect((await http.put('/api/progress', { lessons: { [LESSON]: { steps: [6] } } })).status).toBe(400);
    expect((await http.put('/api/progress', { lessons: { '99-nothing': { steps: [1] } } })).status).toBe(400);
    expect((await http.get('/api/lessons/99')).status).toBe(404);
    expect((await http.post('/api/lessons/99/open')).status).toBe(404);
    expect((await http.get<Progress>('/api/progress')).body.lessons[LESSON]!.steps).toEqual([1, 2]);
  });

  it('keeps the progress, and the open lesson, for a new playground on the same workspace folder', async () => {
    await pg.close();
    expect(existsSync(join(root, 'progress.json'))).toBe(true);
    const again = await startPlayground();
    const http2 = api(again);
    const list = (await http2.get<LessonList>('/api/lessons')).body;
    expect(list.active).toBe(LESSON);
    expect(again.learner.cwd).toBe(join(root, LESSON));
    const four = list.lessons.find((l) => l.id === LESSON)!;
    expect(four).toMatchObject({ stepsDone: [1, 2], done: true });
    expect((await http2.get<HintsReply>(`/api/lessons/${LESSON}/hints`)).body.revealed).toBe(2);
    // The page learns which files to show from the stream's history.
    const ws = await until(
      () => again.messages().find((m): m is Extract<StreamMessage, { kind: 'workspace' }> => m.kind === 'workspace'),
      5000,
      () => 'the workspace message in the history',
    );
    expect(ws.lesson).toBe(LESSON);
    expect(names(ws.files)).toEqual(['client.js', 'server.js']);
  }, 30_000);
});
