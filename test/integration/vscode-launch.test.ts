/**
 * .vscode/launch.json and tasks.json, proven without VS Code: the files parse as VS Code reads
 * them and everything they name exists and agrees; then each Node configuration is started the
 * way VS Code starts it (its program, arguments and environment; ports 0 where it says 9900 and
 * 9901), with the inspector on, and driven over the Chrome DevTools Protocol the way VS Code's
 * JavaScript debugger drives it: a breakpoint set by file URL binds, a message sent through the
 * wiretap stops there with the message in scope, and after resume the echo arrives.
 *
 * js-debug's autoAttachChildProcesses works through NODE_OPTIONS (its bootloader), which the
 * learner's server child inherits; these tests put --inspect in NODE_OPTIONS to the same effect.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE } from '../../server/runner/workspace.ts';
import { parseTarget } from '../../server/tap/target.ts';
import { Cdp, decodeMappings, evaluateOnFrame, inlineSourceMap, inspectorTargets, type Mapping } from '../helpers/cdp.ts';
import { Cleanup, connect, occupyPort, startEchoServer, unusedPort, type Client } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import {
  configuration,
  mapBrowserUrl,
  parseJsonc,
  PROJECT_ROOT,
  readJsonc,
  startProgram,
  substitute,
  type LaunchConfiguration,
  type LaunchJson,
  type Program,
  type Task,
  type TasksJson,
} from '../helpers/vscode-config.ts';

const PLAYGROUND = 'Playground: server.js + wsplay (Node)';
const ATTACH = 'Attach to server.js (port 9230)';
const CLIENT = 'Client: client.js in Chromium';
const CHECKS = 'Lesson checks (vitest)';
const TAP = 'wsplay tap → your server';

const launchJson = readJsonc<LaunchJson>('.vscode/launch.json');
const tasksJson = readJsonc<TasksJson>('.vscode/tasks.json');
const packageJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const cleanup = new Cleanup();
const dirs: string[] = [];
afterAll(async () => {
  await cleanup.run();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh workspace folder: `wsplay start` seeds it with the course's client.js and server.js. */
function tempWorkspace(): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'wsplay-vscode-')));
  dirs.push(dir);
  return dir;
}

/** The environment VS Code gives a program: this one's, minus the test runner's own variables. */
function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(VITEST|TINYPOOL)/.test(k) && k !== 'NODE_OPTIONS' && k !== 'DEBUG') env[k] = v;
  }
  // There is no desktop to open the dashboard in; a test must never try. ui/dist was built in
  // beforeAll: programs must not build it again at once (builds at the same time clash).
  return { ...env, WSPLAY_NO_OPEN: '1', WSPLAY_SKIP_UI_BUILD: '1', ...extra };
}

/** Start a Node launch configuration's program as js-debug would, plus `extraArgs` and `extraEnv`. */
function launchNode(config: LaunchConfiguration, extraArgs: string[], extraEnv: Record<string, string> = {}): Program {
  const args = [...(config.runtimeArgs ?? []), config.program!, ...(config.args ?? []), ...extraArgs];
  const p = startProgram(config.runtimeExecutable ?? process.execPath, args, { cwd: config.cwd ?? PROJECT_ROOT, env: baseEnv({ ...config.env, ...extraEnv }) });
  cleanup.add(() => p.stop());
  return p;
}

function task(label: string): Task {
  const found = tasksJson.tasks.find((t) => t.label === label);
  if (!found) throw new Error(`tasks.json has no task "${label}"`);
  return substitute(found);
}

/** The 0-based line of the first line of `file` that contains `text`. */
function lineOf(file: string, text: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`${file} has no line containing ${text}`);
  return i;
}

async function debuggerAt(wsUrl: string): Promise<Cdp> {
  const cdp = await Cdp.connect(wsUrl);
  cleanup.add(() => cdp.close());
  await cdp.send('Runtime.enable');
  await cdp.send('Debugger.enable');
  return cdp;
}

async function client(tapPort: number): Promise<Client> {
  const c = await connect(`ws://127.0.0.1:${tapPort}`);
  cleanup.add(() => c.ws.terminate());
  expect(await c.next()).toBe('Hello webSocket');
  return c;
}

const REPLY_LINE = 'ws.send(`I heard you say';

/**
 * What the walk-through in docs/debugging.md does: a breakpoint on server.js's reply line (set
 * by the file's URL, as js-debug sets it), a message sent through the wiretap, the pause there
 * with `msg` and `data` in scope, then resume and the echo.
 */
async function breakAtReply(cdp: Cdp, serverJs: string, tapPort: number, text: string): Promise<void> {
  const url = pathToFileURL(serverJs).href;
  const line = lineOf(serverJs, REPLY_LINE);
  const bp = await cdp.send<{ breakpointId: string; locations: { lineNumber: number }[] }>('Debugger.setBreakpointByUrl', { url, lineNumber: line });
  expect(bp.locations, `the breakpoint binds in the running ${url}`).toEqual([expect.objectContaining({ lineNumber: line })]);

  const c = await client(tapPort);
  c.ws.send(text);
  const { params } = await cdp.take('Debugger.paused');
  const top = params.callFrames[0];
  expect({ url: cdp.scriptUrl(top.location.scriptId), line: top.location.lineNumber }).toEqual({ url, line });
  expect(await evaluateOnFrame(cdp, top.callFrameId, 'msg')).toBe(text);
  expect(await evaluateOnFrame(cdp, top.callFrameId, 'Buffer.isBuffer(data) && data.toString()')).toBe(text);
  // Stopped before ws.send: no reply can have left the server yet.
  expect(c.messages).toEqual(['Hello webSocket']);

  await cdp.send('Debugger.resume');
  expect(await c.next()).toBe(`I heard you say "${text}"`);
  await cdp.send('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
  c.ws.close();
}

/** The mapping at or before a generated position: where a paused location comes from. */
function originalAt(mappings: Mapping[], line: number, column: number): Mapping | undefined {
  return mappings.filter((m) => m.line < line || (m.line === line && m.column <= column)).at(-1);
}

/**
 * A breakpoint in the playground's own TypeScript, as js-debug sets one in a .ts file run by
 * tsx: the loaded script's inline source map gives the generated position of the .ts line
 * (tsx compacts each module onto a few lines), and the breakpoint goes there by the file's URL.
 * It is conditional, as a learner would make it: stop for the client's message only.
 */
async function breakInStoreTs(cdp: Cdp, tapPort: number, text: string): Promise<void> {
  // The capture store sees every event (the log only when DEBUG is on).
  const file = path.join(PROJECT_ROOT, 'server/capture/store.ts');
  const url = pathToFileURL(file).href;
  const script = cdp.all('Debugger.scriptParsed').find((e) => e.params.url === url);
  expect(script, `${url} is loaded, through tsx`).toBeDefined();
  const map = inlineSourceMap(script!.params.sourceMapURL);
  const source = map.sources.findIndex((s) => (s.startsWith('file:') ? fileURLToPath(s) : path.resolve(path.dirname(file), s)) === file);
  expect(source, `the source map of store.ts names store.ts: ${JSON.stringify(map.sources)}`).toBeGreaterThanOrEqual(0);
  expect(map.sourcesContent?.[source], 'the source map carries the .ts text a debugger shows').toBe(readFileSync(file, 'utf8'));

  const line = lineOf(file, 'this.counts[e.type]++');
  const mappings = decodeMappings(map);
  const at = mappings.filter((m) => m.source === source && m.originalLine === line).sort((a, b) => a.line - b.line || a.column - b.column)[0];
  expect(at, `store.ts line ${line + 1} has generated code`).toBeDefined();
  const bp = await cdp.send<{ breakpointId: string; locations: { lineNumber: number; columnNumber: number }[] }>('Debugger.setBreakpointByUrl', {
    url,
    lineNumber: at!.line,
    columnNumber: at!.column,
    condition: "e.type === 'message' && e.dir === 'client'",
  });
  expect(bp.locations).toHaveLength(1);

  const c = await client(tapPort);
  c.ws.send(text);
  const { params } = await cdp.take('Debugger.paused');
  const top = params.callFrames[0];
  expect(cdp.scriptUrl(top.location.scriptId)).toBe(url);
  expect(originalAt(mappings, top.location.lineNumber, top.location.columnNumber ?? 0)?.originalLine, 'the pause maps back to the .ts line').toBe(line);
  // The store holds lazy events (its strings are made when first read): the expression
  // docs/debugging.md gives shows the text either way.
  expect(await evaluateOnFrame(cdp, top.callFrameId, 'e.text ?? e._bytes.toString()')).toBe(text);
  // The wiretap is stopped: it cannot have relayed the server's reply yet.
  expect(c.messages).toEqual(['Hello webSocket']);

  await cdp.send('Debugger.resume');
  expect(await c.next()).toBe(`I heard you say "${text}"`);
  await cdp.send('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
  c.ws.close();
}

/** Every string in a value, with where it is. */
function strings(value: unknown, where = ''): { where: string; value: string }[] {
  if (typeof value === 'string') return [{ where, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${where}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, where ? `${where}.${k}` : k));
  return [];
}

const WIRETAP_LISTENING = /^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /;

beforeAll(async () => {
  // wsplay start builds the dashboard when ui/dist is stale: do it once, not in every program.
  await ensureUiBuilt();
}, 120_000);

describe('the configuration files', () => {
  it('are read as VS Code reads them: comments and trailing commas out, strings intact', () => {
    const text = `// a comment
    {
      "url": "http://127.0.0.1:9901/?token=a//b", /* block */
      "quote": "say \\"hi\\" // not a comment",
      "glob": "\${workspaceFolder}/server/**/*.ts",
      "list": [1, 2, /* two */ ],
    }`;
    expect(parseJsonc(text)).toEqual({
      url: 'http://127.0.0.1:9901/?token=a//b',
      quote: 'say "hi" // not a comment',
      glob: '${workspaceFolder}/server/**/*.ts',
      list: [1, 2],
    });
    expect(launchJson.version).toBe('0.2.0');
    expect(tasksJson.version).toBe('2.0.0');
  });

  it('list the configurations a learner picks from, each name once, and compounds of existing ones', () => {
    const names = launchJson.configurations.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    const visible = launchJson.configurations.filter((c) => !c.presentation?.hidden).map((c) => c.name);
    expect(visible).toEqual(expect.arrayContaining([PLAYGROUND, ATTACH, CLIENT, CHECKS, TAP]));
    expect(launchJson.compounds ?? []).not.toHaveLength(0);
    for (const compound of launchJson.compounds ?? []) {
      for (const name of compound.configurations) expect(names, `compound "${compound.name}"`).toContain(name);
    }
    // The compound: a playground that opens no browser of its own, and the Chromium client.
    const both = launchJson.compounds!.find((c) => c.configurations.includes(CLIENT));
    expect(both).toBeDefined();
    const server = both!.configurations.map((n) => configuration(launchJson, n)).find((c) => c.type === 'node')!;
    expect(server.args).toEqual(expect.arrayContaining(['start', '--no-open']));
    expect(server.autoAttachChildProcesses).toBe(true);
  });

  it('name only programs, folders and files that exist', () => {
    const workspace = DEFAULT_WORKSPACE.replace(/\/$/, '');
    const all = [
      ...launchJson.configurations.flatMap((c) => strings(substitute(c, launchJson.inputs), c.name)),
      ...tasksJson.tasks.flatMap((t) => strings(substitute(t), t.label)),
    ];
    const paths = all.filter((s) => s.value.startsWith(PROJECT_ROOT) || s.value.startsWith(`!${PROJECT_ROOT}`));
    expect(paths.length).toBeGreaterThan(5);
    for (const { where, value } of paths) {
      // A glob: its folder part must exist.
      const fixed = value.replace(/^!/, '').split('*')[0]!.replace(/\/$/, '');
      // workspace/ is created by the first `npm start` (it is not in git): it must be the default one.
      if (fixed === workspace || fixed.startsWith(`${workspace}/`)) continue;
      expect(existsSync(fixed), `${where}: ${value}`).toBe(true);
    }
    for (const c of launchJson.configurations.map((c) => substitute(c, launchJson.inputs))) {
      if (c.program) expect(statSync(c.program).isFile(), `${c.name}: program`).toBe(true);
      if (c.cwd) expect(statSync(c.cwd).isDirectory(), `${c.name}: cwd`).toBe(true);
      // Arguments that are files (lessons/vitest.config.ts) are relative to cwd.
      for (const a of (c.args ?? []).filter((a) => /\.(m?[jt]s|json)$/.test(a))) {
        expect(existsSync(path.resolve(c.cwd ?? PROJECT_ROOT, a)), `${c.name}: argument ${a}`).toBe(true);
      }
    }
    expect(configuration(launchJson, CHECKS).program).toBe(path.join(PROJECT_ROOT, 'node_modules/vitest/vitest.mjs'));
    // `npm run check` and the debug configuration run the same lesson checks.
    expect(packageJson.scripts.check).toContain('--config lessons/vitest.config.ts');
  });

  it('give wsplay only commands and options it knows', () => {
    const help = execFileSync(process.execPath, ['server/bin/wsplay.js', '--help'], { cwd: PROJECT_ROOT, encoding: 'utf8', env: baseEnv() });
    const wsplayArgs = [
      ...launchJson.configurations.map((c) => substitute(c, launchJson.inputs)).filter((c) => c.program?.endsWith('server/bin/wsplay.js')).map((c) => c.args ?? []),
      // npm start -- ARGS: what follows `--` goes to wsplay start.
      ...tasksJson.tasks.filter((t) => t.command === 'npm' && t.args?.[0] === 'start').map((t) => ['start', ...t.args!.slice(t.args!.indexOf('--') + 1)]),
    ];
    expect(wsplayArgs.length).toBeGreaterThanOrEqual(4);
    for (const args of wsplayArgs) {
      expect(help, `command ${args[0]}`).toMatch(new RegExp(`^\\s+wsplay ${args[0]} `, 'm'));
      for (const flag of args.filter((a) => a.startsWith('--'))) expect(help, `option ${flag}`).toMatch(new RegExp(`[\\s[]${flag}\\b`));
    }
  });

  it('start the playground through npm scripts and tasks that exist', () => {
    const labels = tasksJson.tasks.map((t) => t.label);
    for (const c of launchJson.configurations) {
      if (c.preLaunchTask) expect(labels, `${c.name}: preLaunchTask`).toContain(c.preLaunchTask);
    }
    const start = task(configuration(launchJson, ATTACH).preLaunchTask!);
    expect([start.command, start.args?.[0], start.args?.[1]]).toEqual(['npm', 'start', '--']);
    expect(packageJson.scripts.start).toBe('node server/bin/wsplay.js start');
    // VS Code waits for the background task's endsPattern before it attaches.
    expect(start.isBackground).toBe(true);
    const bg = (start.problemMatcher as { background: { endsPattern: string; beginsPattern: string } }).background;
    expect(() => new RegExp(bg.endsPattern)).not.toThrow();
    expect(() => new RegExp(bg.beginsPattern)).not.toThrow();
    const wait = task(configuration(launchJson, CLIENT).preLaunchTask!);
    expect(wait.command).toBe('node');
    expect(existsSync(wait.args![0]!)).toBe(true);
  });

  it('agree on ports and on the dashboard token', () => {
    const help = execFileSync(process.execPath, ['server/bin/wsplay.js', '--help'], { cwd: PROJECT_ROOT, encoding: 'utf8', env: baseEnv() });
    const dashboardDefault = /--dashboard-port N .*default (\d+)/.exec(help)?.[1];
    const chrome = configuration(launchJson, CLIENT);
    const url = new URL(chrome.url!);
    expect([url.hostname, url.port]).toEqual(['127.0.0.1', dashboardDefault]);

    // Every configuration and task that starts a playground fixes the token the URL carries.
    const token = url.searchParams.get('token');
    expect(token).toBeTruthy();
    const starters = launchJson.configurations.map((c) => configuration(launchJson, c.name)).filter((c) => c.program?.endsWith('server/bin/wsplay.js'));
    expect(starters.length).toBeGreaterThanOrEqual(3);
    for (const c of starters) expect(c.env?.WSPLAY_TOKEN, c.name).toBe(token);
    const attach = configuration(launchJson, ATTACH);
    const start = task(attach.preLaunchTask!);
    expect(start.options?.env?.WSPLAY_TOKEN).toBe(token);

    // The attach configuration goes where the task puts server.js's inspector (127.0.0.1 only).
    expect(attach.restart).toBe(true);
    expect(attach.address).toBe('127.0.0.1');
    expect(start.args![start.args!.indexOf('--inspect-server') + 1]).toBe(String(attach.port));
    // The wait task waits on the port Chromium opens.
    expect(task(chrome.preLaunchTask!).args![1]).toBe(url.port);
  });

  it("map the Worker's client.js URL to the workspace's client.js", () => {
    const chrome = configuration(launchJson, CLIENT);
    expect(chrome.type).toBe('chrome');
    expect(chrome.request).toBe('launch');
    const origin = new URL(chrome.url!).origin;
    expect(mapBrowserUrl(chrome, `${origin}/workspace/client.js`)).toBe(path.join(DEFAULT_WORKSPACE, 'client.js'));
    expect(mapBrowserUrl(chrome, `${origin}/workspace/server.js`)).toBe(path.join(DEFAULT_WORKSPACE, 'server.js'));
  });

  it('prompt for a tap target whose default wsplay tap accepts', () => {
    const used = [...JSON.stringify(launchJson).matchAll(/\$\{input:([^}]+)\}/g)].map((m) => m[1]);
    const ids = (launchJson.inputs ?? []).map((i) => i.id);
    for (const id of used) expect(ids).toContain(id);
    const tap = configuration(launchJson, TAP);
    const target = tap.args![tap.args!.indexOf('--target') + 1]!;
    expect(target).toBe('ws://127.0.0.1:8080');
    expect(parseTarget(target)).toEqual({ host: '127.0.0.1', port: 8080 });
  });
});

describe('WSPLAY_TOKEN, the fixed dashboard token the configurations set', () => {
  it.each([
    ['too short', 'abc'],
    ['a character a cookie cannot carry', 'vscode;debug'],
  ])('is refused with one line saying what to do when %s', async (_name, token) => {
    const config = configuration(launchJson, TAP, { target: 'ws://127.0.0.1:9' });
    const p = launchNode(config, ['--port', '0', '--dashboard-port', '0'], { WSPLAY_TOKEN: token });
    expect((await p.exited).code).toBe(2);
    expect(p.stderr().trimEnd().split('\n')).toEqual([expect.stringMatching(/^WSPLAY_TOKEN must be 8 to 128 letters.*unset it for a random token/)]);
  });
});

describe(`"${PLAYGROUND}"`, () => {
  let program: Program;
  let workspace: string;
  let tapPort: number;
  let serverInspector: string;
  let wsplayInspector: string;

  beforeAll(async () => {
    workspace = tempWorkspace();
    program = launchNode(configuration(launchJson, PLAYGROUND), ['--port', '0', '--dashboard-port', '0', '--workspace', workspace], {
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
    });
    tapPort = Number((await program.line(WIRETAP_LISTENING))[1]);
    // The learner's server child inherited the inspector; wsplay prints its output as [server.js].
    serverInspector = (await program.line(/^\[server\.js\] Debugger listening on (ws:\/\/\S+)/))[1]!;
    wsplayInspector = (await program.line(/^Debugger listening on (ws:\/\/\S+)/, { stream: 'stderr' }))[1]!;
  });

  it("stops at server.js's reply line with msg and data in scope, and the echo arrives after resume", async () => {
    await breakAtReply(await debuggerAt(serverInspector), path.join(workspace, 'server.js'), tapPort, 'stop here');
  });

  it("stops in the playground's own TypeScript, mapped through tsx's source map", async () => {
    await breakInStoreTs(await debuggerAt(wsplayInspector), tapPort, 'seen by the wiretap');
  });

  it('serves the dashboard at the URL the Chromium configuration opens, and the client file to it', async () => {
    const [, printed] = await program.line(/^Dashboard: (\S+)$/);
    const expected = new URL(configuration(launchJson, CLIENT).url!);
    const actual = new URL(printed!);
    expected.port = actual.port;
    expect(actual.href).toBe(expected.href);
    // The page opened at that URL asks, with its token, for the single-use grant the Worker's
    // importScripts of /workspace/client.js carries (a cookie for that path only).
    expect((await fetch(actual)).status).toBe(200);
    const granted = await fetch(new URL('/api/client-grant', actual), { method: 'POST', headers: { 'X-Wsplay-Token': actual.searchParams.get('token')! } });
    const cookie = granted.headers.get('set-cookie')?.split(';')[0];
    expect(cookie).toMatch(/^wsplay_grant=/);
    const file = await fetch(new URL('/workspace/client.js', actual), { headers: { cookie: cookie! } });
    expect(file.status).toBe(200);
    expect(await file.text()).toBe(readFileSync(path.join(workspace, 'client.js'), 'utf8'));
  });
});

describe(`the preLaunchTask of "${CLIENT}"`, () => {
  const chrome = configuration(launchJson, CLIENT);
  const wait = task(chrome.preLaunchTask!);
  const dashboardPort = new URL(chrome.url!).port;

  /** The task's command with another port (and, optionally, a shorter wait). */
  function runWait(port: number, extra: string[] = []): Program {
    const p = startProgram(wait.command === 'node' ? process.execPath : wait.command!, [...wait.args!.map((a) => (a === dashboardPort ? String(port) : a)), ...extra], {
      cwd: PROJECT_ROOT,
      env: baseEnv(),
    });
    cleanup.add(() => p.stop());
    return p;
  }

  it('waits for the playground to serve its dashboard, then returns', async () => {
    // The compound starts both at once: the wait runs first, the dashboard comes later.
    const port = await unusedPort();
    const w = runWait(port);
    await w.line(/^Waiting for the playground's dashboard/);
    launchNode(configuration(launchJson, PLAYGROUND), ['--port', '0', '--dashboard-port', String(port), '--workspace', tempWorkspace()]);
    expect((await w.exited).code, w.stdout() + w.stderr()).toBe(0);
    expect(w.stdout()).toContain(`The dashboard answers on http://127.0.0.1:${port}/.`);
  });

  it('gives up, saying what to start, when nothing answers', async () => {
    const w = runWait(await unusedPort(), ['1']);
    expect((await w.exited).code).toBe(1);
    expect(w.stderr()).toContain(`Start the playground first: "${PLAYGROUND}"`);
  });
});

describe(`"${ATTACH}" after its preLaunchTask`, () => {
  const attach = configuration(launchJson, ATTACH);
  const start = task(attach.preLaunchTask!);
  const ends = new RegExp((start.problemMatcher as { background: { endsPattern: string } }).background.endsPattern);

  /** The task's command line with the inspector on `port` instead of 9230, other ports 0. */
  function runTask(port: number, workspace: string): Program {
    const args = start.args!.map((a) => (a === String(attach.port) ? String(port) : a));
    const p = startProgram(start.command!, [...args, '--port', '0', '--dashboard-port', '0', '--workspace', workspace], {
      cwd: start.options?.cwd ?? PROJECT_ROOT,
      env: baseEnv(start.options?.env),
    });
    cleanup.add(() => p.stop());
    return p;
  }

  let program: Program;
  let workspace: string;
  let port: number;
  let tapPort: number;

  beforeAll(async () => {
    port = await unusedPort();
    workspace = tempWorkspace();
    program = runTask(port, workspace);
    // Where VS Code stops waiting for the task and attaches.
    const { input: line } = await program.line(ends);
    expect(line).toContain(`Debugger listening on ws://127.0.0.1:${port}/`);
    tapPort = Number((await program.line(WIRETAP_LISTENING))[1]);
  });

  it('attaches at the port the task opened, stops at the reply line, and the echo arrives after resume', async () => {
    // VS Code's attach asks the inspector for its targets at address:port, as here.
    const targets = await inspectorTargets(port, attach.address);
    expect(targets).toHaveLength(1);
    await breakAtReply(await debuggerAt(targets[0]!.webSocketDebuggerUrl), path.join(workspace, 'server.js'), tapPort, 'attached');
  });

  it('attaches again after a save restarts server.js (restart: true), and the breakpoint binds again', async () => {
    const serverJs = path.join(workspace, 'server.js');
    const listening = program.stdout().split('\n').filter((l) => ends.test(l)).length;
    // A save from another editor: the playground restarts server.js, same inspector port.
    writeFileSync(serverJs, `${readFileSync(serverJs, 'utf8')}\n// saved again\n`);
    await program.line(ends, { nth: listening + 1 });
    await program.line(/listens on port \d+, moved to internal port/, { nth: 2 });
    const targets = await inspectorTargets(port, attach.address);
    expect(targets).toHaveLength(1);
    await breakAtReply(await debuggerAt(targets[0]!.webSocketDebuggerUrl), serverJs, tapPort, 'after the restart');
  });

  it('stops waiting, and says why, when the inspector port is taken', async () => {
    const busy = await occupyPort();
    cleanup.add(() => busy.close());
    const p = runTask(busy.port, tempWorkspace());
    const { input: line } = await p.line(ends);
    expect(line).toBe(`[server.js] Starting inspector on 127.0.0.1:${busy.port} failed: address already in use`);
    await p.stop();
  });
});

describe(`"${TAP}"`, () => {
  it('relays to the server given at the prompt, and stops in the TypeScript with the message in scope', async () => {
    const echo = await startEchoServer();
    cleanup.add(() => echo.close());
    const p = launchNode(configuration(launchJson, TAP, { target: `ws://127.0.0.1:${echo.port}` }), ['--port', '0', '--dashboard-port', '0'], {
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
    });
    const [, tapPort, host, target] = (await p.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) → ws:\/\/([\d.]+):(\d+)$/))!;
    expect([host, Number(target)]).toEqual(['127.0.0.1', echo.port]);
    const [, inspector] = await p.line(/^Debugger listening on (ws:\/\/\S+)/, { stream: 'stderr' });
    await breakInStoreTs(await debuggerAt(inspector!), Number(tapPort), 'through the tap');
  });
});

describe(`"${CHECKS}"`, () => {
  it("runs the lesson checks with the configuration's program, arguments and folder", async () => {
    // One lesson, as `npm run check -- NN` picks it (all of them take seconds each): the first.
    // The learner's files go to a temporary workspace, not the project's.
    const lessons = readdirSync(path.join(PROJECT_ROOT, 'lessons')).filter((d) => /^\d\d-/.test(d) && existsSync(path.join(PROJECT_ROOT, 'lessons', d, 'check.test.ts'))).sort();
    const first = lessons[0]?.slice(0, 2) ?? '99';
    const p = launchNode(configuration(launchJson, CHECKS), [first], { WSPLAY_WORKSPACE: tempWorkspace() });
    const { code } = await p.exited;
    const output = p.stdout() + p.stderr();
    if (lessons.length === 0) {
      expect(code, output).toBe(0);
      expect(output).toMatch(/No lesson matched/);
    } else {
      // 1 when a check fails, as some do on the starter code; anything else is a broken run.
      expect([0, 1], output).toContain(code);
      expect(output).toContain(`Lesson ${first}`);
      expect(output).not.toMatch(/Startup Error|failed to load config/i);
    }
  });
});
