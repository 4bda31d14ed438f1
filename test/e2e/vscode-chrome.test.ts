/**
 * "Client: client.js in Chromium" (.vscode/launch.json), proven in a real Chromium without VS
 * Code. The playground runs as the compound starts it; Chromium is launched and driven over the
 * Chrome DevTools Protocol the way VS Code's JavaScript debugger drives it (about:blank, attach
 * to the page, auto-attach to its workers, navigate to the configuration's URL). The
 * playground's client runtime Worker loads the learner's client.js from its stable URL with
 * importScripts; a breakpoint set by that URL on the `console.log('received: '` line binds, the
 * Worker stops there with `event.data` in scope, and resumes.
 */
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE } from '../../server/runner/workspace.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailability } from '../helpers/browser.ts';
import { Cdp, evaluateOnFrame } from '../helpers/cdp.ts';
import { Cleanup } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { configuration, mapBrowserUrl, PROJECT_ROOT, readJsonc, startProgram, type LaunchJson, type Program } from '../helpers/vscode-config.ts';

const CLIENT = 'Client: client.js in Chromium';
const browser = chromiumAvailability();

const launchJson = readJsonc<LaunchJson>('.vscode/launch.json');
const cleanup = new Cleanup();
const dirs: string[] = [];
afterAll(async () => {
  await cleanup.run();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
  dirs.push(dir);
  return dir;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(VITEST|TINYPOOL)/.test(k) && k !== 'NODE_OPTIONS' && k !== 'DEBUG') out[k] = v;
  // ui/dist is built in beforeAll; the playground must not build it again at the same time.
  return { ...out, WSPLAY_NO_OPEN: '1', WSPLAY_SKIP_UI_BUILD: '1', ...extra };
}

/** The learner's client after lesson 3: it answers once the socket is open. */
function clientJs(tapPort: number): string {
  return `const socket = new WebSocket('ws://127.0.0.1:${tapPort}');

socket.onopen = () => {
  socket.send('I am listening');
};

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};
`;
}

describe.skipIf(browser.skip)(`"${CLIENT}" ${browser.reason}`, () => {
  const chrome = configuration(launchJson, CLIENT);
  let playground: Program;
  let workspace: string;
  let dashboardUrl: URL;
  let cdp: Cdp;

  beforeAll(async () => {
    await ensureUiBuilt();
    // The playground as the compound starts it, on ports 0.
    const compound = launchJson.compounds!.find((c) => c.configurations.includes(CLIENT))!;
    const server = compound.configurations.map((n) => configuration(launchJson, n)).find((c) => c.type === 'node')!;
    workspace = tempDir('wsplay-vscode-chrome-');
    playground = startProgram(process.execPath, [...(server.runtimeArgs ?? []), server.program!, ...(server.args ?? []), '--port', '0', '--dashboard-port', '0', '--workspace', workspace], {
      cwd: server.cwd ?? PROJECT_ROOT,
      env: env(server.env),
    });
    cleanup.add(() => playground.stop());
    const tapPort = Number((await playground.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /))[1]);
    dashboardUrl = new URL((await playground.line(/^Dashboard: (\S+)$/))[1]!);
    writeFileSync(path.join(workspace, 'client.js'), clientJs(tapPort));

    // Chromium as js-debug launches it: its own profile, a DevTools endpoint, about:blank.
    const chromium = startProgram(CHROMIUM_PATH, [...CHROMIUM_ARGS, '--headless=new', '--remote-debugging-port=0', `--user-data-dir=${tempDir('wsplay-vscode-profile-')}`, 'about:blank'], {
      cwd: PROJECT_ROOT,
      env: env(),
    });
    cleanup.add(() => chromium.stop());
    const [, endpoint] = await chromium.line(/DevTools listening on (ws:\/\/\S+)/, { stream: 'stderr', timeoutMs: 20_000 });
    cdp = await Cdp.connect(endpoint!);
    cleanup.add(() => cdp.close());
  }, 120_000);

  it('opens the dashboard at its URL, and a breakpoint in client.js stops the Worker with event.data in scope', async () => {
    // The configuration's URL on the playground's port: the same token, so the cookie is set.
    const url = new URL(chrome.url!);
    url.port = dashboardUrl.port;
    expect(url.href).toBe(dashboardUrl.href);
    const clientUrl = `${url.origin}/workspace/client.js`;
    // What VS Code maps that URL to: the workspace's client.js.
    expect(mapBrowserUrl(chrome, clientUrl)).toBe(path.join(DEFAULT_WORKSPACE, 'client.js'));
    const line = readFileSync(path.join(workspace, 'client.js'), 'utf8').split('\n').findIndex((l) => l.includes("console.log('received: '"));

    const { targetInfos } = await cdp.send<{ targetInfos: { targetId: string; type: string }[] }>('Target.getTargets');
    const pageTarget = targetInfos.find((t) => t.type === 'page')!;
    const { sessionId: page } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId: pageTarget.targetId, flatten: true });

    // The playground's client runtime (ui/src/runner/client-runtime.ts, built into ui/dist): a
    // classic Worker that runs client.js with importScripts of its stable URL.
    const runtime = readdirSync(path.join(PROJECT_ROOT, 'ui/dist/assets')).find((f) => /^client-runtime-[\w-]+\.js$/.test(f));
    expect(runtime, 'ui/dist has the client runtime').toBeDefined();
    const runtimeUrl = `${url.origin}/assets/${runtime}`;

    // Workers start paused until the debugger is ready: ours is debugged, the page's own (the
    // editor's) are let go at once.
    cdp.onEvent((e) => {
      if (e.method === 'Target.attachedToTarget' && e.params.waitingForDebugger && e.params.targetInfo.url !== runtimeUrl) {
        void cdp.send('Runtime.runIfWaitingForDebugger', {}, e.params.sessionId).catch(() => {});
      }
    });
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, page);
    await cdp.send('Page.enable', {}, page);
    await cdp.send('Page.navigate', { url: url.href }, page);
    await cdp.take('Page.loadEventFired', { sessionId: page, timeoutMs: 20_000 });

    // Run client.js as the dashboard's Run button does: a single-use grant for the Worker's load
    // of client.js (a cookie for that path), then a runtime Worker, told where client.js is.
    const created = await cdp.send<{ exceptionDetails?: unknown }>(
      'Runtime.evaluate',
      {
        awaitPromise: true,
        expression: `(async () => {
          const granted = await fetch('/api/client-grant', { method: 'POST', headers: { 'X-Wsplay-Token': new URLSearchParams(location.search).get('token') } });
          if (!granted.ok) throw new Error('no client grant: ' + granted.status);
          const worker = new Worker(${JSON.stringify(runtimeUrl)}, { name: 'client.js · peer 1' });
          worker.postMessage({ kind: 'start', url: ${JSON.stringify(clientUrl)}, peer: 1 });
          globalThis.__vscodeTestWorker = worker;
        })()`,
      },
      page,
    );
    expect(created.exceptionDetails).toBeUndefined();
    const attached = await cdp.take('Target.attachedToTarget', { match: (p) => p.targetInfo.type === 'worker' && p.targetInfo.url === runtimeUrl });
    const worker: string = attached.params.sessionId;

    await cdp.send('Runtime.enable', {}, worker);
    await cdp.send('Debugger.enable', {}, worker);
    const bp = await cdp.send<{ breakpointId: string; locations: unknown[] }>('Debugger.setBreakpointByUrl', { url: clientUrl, lineNumber: line }, worker);
    await cdp.send('Runtime.runIfWaitingForDebugger', {}, worker);

    // The Worker loads client.js: the breakpoint binds there (VS Code shows it as verified).
    const resolved = await cdp.take('Debugger.breakpointResolved', { sessionId: worker, match: (p) => p.breakpointId === bp.breakpointId });
    expect(resolved.params.location.lineNumber).toBe(line);

    // The server's greeting arrives: stopped on the console.log line, with the event in scope.
    let paused = await cdp.take('Debugger.paused', { sessionId: worker });
    let top = paused.params.callFrames[0];
    expect({ url: cdp.scriptUrl(top.location.scriptId, worker), line: top.location.lineNumber }).toEqual({ url: clientUrl, line });
    expect(await evaluateOnFrame(cdp, top.callFrameId, 'event.data', worker)).toBe('Hello webSocket');
    expect(await evaluateOnFrame(cdp, top.callFrameId, 'socket.readyState', worker)).toBe(1);
    await cdp.send('Debugger.resume', {}, worker);

    // The echo of what onopen sent, through the wiretap and back: the same line again.
    paused = await cdp.take('Debugger.paused', { sessionId: worker });
    top = paused.params.callFrames[0];
    expect(top.location.lineNumber).toBe(line);
    expect(await evaluateOnFrame(cdp, top.callFrameId, 'event.data', worker)).toBe('I heard you say "I am listening"');
    await cdp.send('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId }, worker);
    await cdp.send('Debugger.resume', {}, worker);

    // And the client printed both, as it does without a debugger.
    const printed: string[] = [];
    for (let i = 0; i < 2; i++) {
      const e = await cdp.take('Runtime.consoleAPICalled', { sessionId: worker });
      printed.push(e.params.args.map((a: { value?: unknown }) => a.value).join(''));
    }
    expect(printed).toEqual(['received: Hello webSocket', 'received: I heard you say "I am listening"']);
  });
});
