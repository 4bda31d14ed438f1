/**
 * The Conformance view's API over real sockets: POST /api/conformance runs the suite's cases
 * against the server behind the wiretap, through the wiretap (every case is a connection in the
 * capture), GET /api/conformance reports the results with each case's connection, and the routes
 * are guarded like every control route (token, Host, Origin).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceState } from '../../server/app/conformance-protocol.ts';
import type { OpenEvent } from '../../server/capture/events.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

let pg: Playground;
beforeAll(async () => {
  pg = await startPlayground({ ui: false });
}, 30_000);
afterAll(() => pg?.close());

const base = () => `http://127.0.0.1:${pg.dashboardPort}`;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: ConformanceState & { error?: string } }> {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: { 'X-Wsplay-Token': pg.token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as ConformanceState & { error?: string } };
}

/** The run's state once it is done and every case's connection is known (a net of 60 s, not a measure). */
async function finished(): Promise<ConformanceState> {
  const started = Date.now();
  for (;;) {
    const s = (await api('GET', '/api/conformance')).json;
    if (s.status !== 'running' && s.results.every((r) => r.localPort === undefined || r.conn !== undefined)) return s;
    if (Date.now() - started > 60_000) throw new Error(`The run did not end within 60 s: ${s.results.length} of ${s.cases.length} cases done.`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('POST /api/conformance', () => {
  it('is refused without the token and from another origin', async () => {
    const noToken = await fetch(`${base()}/api/conformance`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(noToken.status).toBe(403);
    const foreign = await api('POST', '/api/conformance', { cases: '1.1.1' }, { Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error).toMatch(/Origin "http:\/\/evil\.example" is not this dashboard/);
    // Nothing ran.
    expect((await api('GET', '/api/conformance')).json.run).toBe(0);
  });

  it('names what is wrong with a case list that is not one', async () => {
    const bad = await api('POST', '/api/conformance', { cases: 'all of them' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/"all of them" is not a case list item/);
    const none = await api('POST', '/api/conformance', { cases: '8' });
    expect(none.status).toBe(400);
    expect(none.json.error).toMatch(/No case matches "8"/);
  });

  it("runs the cases through the wiretap and maps each to its connection: the tutorial's server fails the echo cases", async () => {
    const started = await api('POST', '/api/conformance', { cases: '1.1.1,1.2.1,4.1.1' });
    expect(started.status).toBe(202);
    expect(started.json.status).toBe('running');
    expect(started.json.cases.map((c) => c.id)).toEqual(['1.1.1', '1.2.1', '4.1.1']);
    expect(started.json.cases[0]!.rfc.must).not.toBe('');

    const done = await finished();
    expect(done.status).toBe('done');
    expect(done.results.map((r) => r.id)).toEqual(['1.1.1', '1.2.1', '4.1.1']);
    // The tutorial's server greets and answers "I heard you say …": not an echo.
    expect(done.results[0]!.verdict).toBe('FAIL');
    expect(done.results[1]!.verdict).toBe('FAIL');

    // Each case's connection is the wiretap's connection from the runner's port.
    const opens = pg.store.all().filter((e): e is OpenEvent => e.type === 'open');
    for (const r of done.results) {
      const open = opens.find((o) => o.conn === r.conn);
      expect(open?.client, `case ${r.id}`).toBe(`127.0.0.1:${r.localPort}`);
    }
    // Its frames are in the capture: the runner's text frame on the connection of 1.1.1.
    const c1 = done.results[0]!.conn!;
    expect(pg.store.all().some((e) => e.type === 'frame' && e.conn === c1 && e.dir === 'client' && e.opcode === 1)).toBe(true);

    // A poll that names the run and what it has gets only the rest.
    const poll = (await api('GET', `/api/conformance?run=${done.run}&since=2`)).json;
    expect(poll.from).toBe(2);
    expect(poll.cases).toEqual([]);
    expect(poll.results.map((r) => r.id)).toEqual(['4.1.1']);
    const nothingNew = (await api('GET', `/api/conformance?run=${done.run}&since=3`)).json;
    expect(nothingNew.results).toEqual([]);
    expect(nothingNew.total).toBe(3);
    // Another run's page gets everything.
    expect((await api('GET', `/api/conformance?run=${done.run - 1}&since=3`)).json.cases).toHaveLength(3);
  }, 90_000);
});
