/**
 * Which ports wsplay listens on: a default that is taken moves and says so, a named one that is
 * taken is an error with one command to run, every flag kept.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { commandWith, planPorts, PortError } from '../../server/tap/port-plan.ts';
import { Cleanup, occupyPort } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function taken(): Promise<number> {
  const busy = await occupyPort();
  cleanup.add(() => busy.close());
  return busy.port;
}

const canListen = (port: number) =>
  new Promise<boolean>((done) => {
    const s = net.createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });

describe('planPorts', () => {
  it('moves a taken default port to a free one and says so in a line naming who holds it', async () => {
    const port = await taken();
    const plan = await planPorts([{ flag: '--port', what: 'the wiretap', value: undefined, fallback: port }], () => 'unused');
    expect(plan.ports[0]).not.toBe(port);
    if (plan.ports[0] !== 0) expect(await canListen(plan.ports[0]!)).toBe(true);
    expect(plan.notes).toEqual([
      `Port ${port} is in use by another program (pid ${process.pid}): the wiretap listens on ${plan.ports[0] === 0 ? 'a free port' : `port ${plan.ports[0]}`} instead (--port N to choose).`,
    ]);
  });

  it('keeps a free default port and says nothing', async () => {
    const free = await occupyPort();
    await free.close();
    const plan = await planPorts([{ flag: '--dashboard-port', what: 'the dashboard', value: undefined, fallback: free.port }], () => 'unused');
    expect(plan).toEqual({ ports: [free.port], notes: [] });
  });

  it('refuses a taken port the user named, with the command to run instead', async () => {
    const port = await taken();
    const run = planPorts([{ flag: '--dashboard-port', what: 'the dashboard', value: String(port), fallback: 9901 }], (changes) => commandWith('npm start --', ['--dashboard-port', String(port), '--no-open'], changes));
    await expect(run).rejects.toThrow(PortError);
    await expect(run).rejects.toThrow(new RegExp(`^Dashboard port ${port} is in use by another program \\(pid ${process.pid}\\)\\. Stop it or run: npm start -- --dashboard-port (?!${port}\\b)\\d+ --no-open$`));
  });
});

describe('commandWith', () => {
  it('replaces a flag where it was typed, both spellings, and keeps every other argument', () => {
    const args = ['--target', 'ws://127.0.0.1:8080', '--port=9910', '--record', 'my session.jsonl', '--fault', 'latency=200', '--no-open'];
    expect(commandWith('npx wsplay tap', args, { '--port': 9920, '--dashboard-port': 9921 })).toBe(
      "npx wsplay tap --target ws://127.0.0.1:8080 --port 9920 --record 'my session.jsonl' --fault latency=200 --no-open --dashboard-port 9921",
    );
  });

  it("quotes what a shell would split or expand", () => {
    expect(commandWith('npm start --', ['--workspace', "it's $HOME"], {})).toBe(`npm start -- --workspace 'it'\\''s $HOME'`);
  });
});
