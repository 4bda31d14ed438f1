/**
 * Monaco, bundled by vite with its workers (no CDN), loaded lazily: the Editor view imports this
 * module with `import()`, so the inspector's first paint never waits for it.
 *
 * Two files, two language services, so each file is checked against what it really runs on:
 * - client.js is "javascript" (Monaco's JavaScript service): checkJs on, libs ES2023 + the Web
 *   Worker globals (it runs in a Worker: WebSocket, console, setTimeout, importScripts... and no
 *   `document`, which would fail there).
 * - server.js is a .js file in Monaco's TypeScript service (a second, separate worker): checkJs
 *   on, CommonJS, with @types/node and @types/ws as served by the playground (/api/types/...).
 */
import * as monaco from 'monaco-editor/editor';
import 'monaco-editor/features/register.all';
import 'monaco-editor/languages/definitions/javascript/register';
import 'monaco-editor/languages/definitions/typescript/register';
import * as ts from 'monaco-editor/languages/features/typescript/register';
import editorWorkerUrl from 'monaco-editor/editor/editor.worker?worker&url';
import tsWorkerUrl from 'monaco-editor/languages/features/typescript/ts.worker?worker&url';
import { effect } from '@preact/signals';
import { clientMarkers } from './runner/run-client.ts';
import { installCodeInsights, watchModel } from './code-insights/monaco.ts';
import { codeInsights } from './code-insights/store.ts';
import { fetchTypes, sessions, workspaceFiles, workspaceGeneration, type FileName } from './runner/workspace.ts';

export { monaco };

// Monaco's workers, bundled by vite (one script each, same origin). Started as module workers:
// the build's IIFE scripts run as modules too, and `npm run dev` serves them as ES modules.
(globalThis as unknown as { MonacoEnvironment: monaco.Environment }).MonacoEnvironment = {
  getWorker(_id: string, label: string): Worker {
    if (label === 'typescript' || label === 'javascript') return new Worker(tsWorkerUrl, { type: 'module', name: `monaco ${label}` });
    return new Worker(editorWorkerUrl, { type: 'module', name: 'monaco editor' });
  },
};

/** file:///client.js, file:///server.js, file:///accept.js (a lesson's module) ... */
export const uriOf = (name: FileName): monaco.Uri => monaco.Uri.parse(`file:///${name}`);
/** client.js runs in the browser (a Worker); every other file runs in Node (server.js, a lesson's modules). */
const languageOf = (name: FileName): string => (name === 'client.js' ? 'javascript' : 'typescript');

const common: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2020,
  allowJs: true,
  checkJs: true,
  allowNonTsExtensions: true,
  noEmit: true,
  strict: false,
};

ts.javascriptDefaults.setCompilerOptions({
  ...common,
  lib: ['es2023', 'webworker', 'webworker.importscripts', 'webworker.iterable'],
  types: [],
});
ts.javascriptDefaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false });

ts.typescriptDefaults.setCompilerOptions({
  ...common,
  lib: ['es2023'],
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.NodeJs,
  esModuleInterop: true,
  // Every @types file is a root of the program (extra libs): no type directives to resolve.
  types: [],
});
ts.typescriptDefaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false });

const NODE_FALLBACK = `declare var require: { (id: string): any }; declare var module: { exports: any }; declare var exports: any;
declare var process: any; declare var __dirname: string; declare var __filename: string; declare var Buffer: any; declare var console: Console;
interface Console { log(...data: any[]): void; error(...data: any[]): void; warn(...data: any[]): void; info(...data: any[]): void }`;

export const typesStatus = { node: false, ws: false };

/**
 * The playground serves each @types package as one text: its .d.ts files one after the other,
 * each after a `// @types/PKG/PATH.d.ts` line. They must not be one file for TypeScript (one
 * `export {}` would turn every `declare module "fs"` in it into an augmentation), so each goes
 * back to its own path under file:///node_modules/, where `require('ws')` resolves.
 */
export function splitDeclarations(bundle: string): Array<{ path: string; content: string }> {
  const files: Array<{ path: string; content: string }> = [];
  const re = /^\/\/ (@types\/[\w.-]+\/[^\n]*?\.d\.ts)[ \t]*$/gm;
  let m: RegExpExecArray | null;
  let last: { path: string; start: number } | null = null;
  while ((m = re.exec(bundle))) {
    if (last) files.push({ path: last.path, content: bundle.slice(last.start, m.index) });
    last = { path: m[1]!, start: m.index + m[0].length };
  }
  if (last) files.push({ path: last.path, content: bundle.slice(last.start) });
  return files;
}

async function loadServerTypes(): Promise<void> {
  const [node, ws] = await Promise.all([fetchTypes('node.d.ts'), fetchTypes('ws.d.ts')]);
  const add = (bundle: string | null, fallbackPath: string): boolean => {
    if (!bundle) return false;
    const files = splitDeclarations(bundle);
    if (files.length === 0) ts.typescriptDefaults.addExtraLib(bundle, fallbackPath);
    for (const f of files) ts.typescriptDefaults.addExtraLib(f.content, `file:///node_modules/${f.path}`);
    return true;
  };
  typesStatus.node = add(node, 'file:///node_modules/@types/node/index.d.ts');
  typesStatus.ws = add(ws, 'file:///node_modules/@types/ws/index.d.ts');
  if (!typesStatus.node) ts.typescriptDefaults.addExtraLib(NODE_FALLBACK, 'file:///wsplay-node-fallback.d.ts');
}

// ---- theme --------------------------------------------------------------------------------------

monaco.editor.defineTheme('wsplay-light', { base: 'vs', inherit: true, rules: [], colors: { 'editor.background': '#ffffff' } });
monaco.editor.defineTheme('wsplay-dark', { base: 'vs-dark', inherit: true, rules: [], colors: { 'editor.background': '#1c1f24' } });
const dark = matchMedia('(prefers-color-scheme: dark)');
const applyTheme = () => monaco.editor.setTheme(dark.matches ? 'wsplay-dark' : 'wsplay-light');
applyTheme();
dark.addEventListener('change', applyTheme);

// ---- models -------------------------------------------------------------------------------------

const models = new Map<FileName, monaco.editor.ITextModel>();
let suppress = 0;

function modelFor(name: FileName): monaco.editor.ITextModel {
  let m = models.get(name);
  if (m) return m;
  m = monaco.editor.getModel(uriOf(name)) ?? monaco.editor.createModel('', languageOf(name), uriOf(name));
  m.updateOptions({ tabSize: 2, insertSpaces: true });
  const model = m;
  models.set(name, model);
  watchModel(name, model);
  model.onDidChangeContent(() => {
    if (suppress > 0) return;
    if (name === 'client.js') monaco.editor.setModelMarkers(model, 'wsplay-check', []);
    sessions[name]?.edited();
  });
  return model;
}

/** Replace a model's text as one undoable edit (an external change or a reset), not saved back. */
function setText(model: monaco.editor.ITextModel, text: string): void {
  suppress++;
  try {
    model.pushStackElement();
    model.pushEditOperations([], [{ range: model.getFullModelRange(), text }], () => null);
    model.pushStackElement();
  } finally {
    suppress--;
  }
}

let loading: Promise<void> | null = null;
let loadingGeneration = -1;
let typesLoading: Promise<void> | null = null;

/** Load the workspace's files into their models (once per workspace; again after a failure). */
export function loadFiles(): Promise<void> {
  if (loading && loadingGeneration === workspaceGeneration.peek()) return loading;
  loadingGeneration = workspaceGeneration.peek();
  const names = workspaceFiles.peek();
  loading = (async () => {
    typesLoading ??= loadServerTypes();
    const types = typesLoading;
    const results = await Promise.allSettled(
      names.map(async (name) => {
        const model = modelFor(name);
        const s = sessions[name];
        if (!s || s.bound) return;
        const text = await s.load();
        // Another workspace opened meanwhile: this text is not the file's any more.
        if (sessions[name] !== s) return;
        suppress++;
        try {
          model.setValue(text);
        } finally {
          suppress--;
        }
        s.bind({ get: () => model.getValue(), set: (t) => setText(model, t) });
      }),
    );
    await types;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      loading = null;
      throw (failed as PromiseRejectedResult).reason;
    }
  })();
  return loading;
}

export function getModel(name: FileName): monaco.editor.ITextModel {
  return modelFor(name);
}

// ---- markers ------------------------------------------------------------------------------------

installCodeInsights(monaco);

effect(() => {
  // An early send's InvalidStateError is the send-before-open insight's evidence (its marker says
  // what the run did there): one marker at that line, not two saying the same thing.
  const early = new Set((codeInsights.value['client.js']?.list ?? []).filter((i) => i.rule === 'send-before-open').map((i) => i.start.line));
  const list = clientMarkers.value.filter((m) => !(early.has(m.line) && m.message.includes('InvalidStateError')));
  const model = modelFor('client.js');
  monaco.editor.setModelMarkers(
    model,
    'wsplay-runtime',
    list
      .filter((m) => m.line >= 1 && m.line <= model.getLineCount())
      .map((m) => {
        const max = model.getLineMaxColumn(m.line);
        const start = Math.min(Math.max(1, m.column), max);
        return {
          severity: monaco.MarkerSeverity.Error,
          message: `${m.message}${m.peers.length > 1 ? ` (peers ${m.peers.join(', ')})` : ''}`,
          source: 'last run',
          startLineNumber: m.line,
          startColumn: start,
          endLineNumber: m.line,
          endColumn: start < max ? max : start + 1,
        };
      }),
  );
});

export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/**
 * client.js's syntax errors as the JavaScript service sees them (its syntactic diagnostics,
 * severity Error), also set as markers. Type errors do not stop a run: JavaScript runs them.
 * A Run does not wait for this (the first call waits for the TypeScript worker to load: seconds
 * on a busy machine): the browser's parser checks client.js as the Worker loads it, and this is
 * asked only when the browser did not say where the error is.
 */
export async function checkClientSyntax(): Promise<SyntaxProblem[]> {
  const model = modelFor('client.js');
  const getWorker = await ts.getJavaScriptWorker();
  const worker = await getWorker(model.uri);
  const diags = await worker.getSyntacticDiagnostics(model.uri.toString());
  const problems = diags
    .filter((d) => d.category === 1 /* Error */)
    .map((d) => {
      const start = model.getPositionAt(d.start ?? 0);
      const end = model.getPositionAt((d.start ?? 0) + Math.max(1, d.length ?? 1));
      const text = typeof d.messageText === 'string' ? d.messageText : d.messageText.messageText;
      return { line: start.lineNumber, column: start.column, endLine: end.lineNumber, endColumn: end.column, message: text };
    });
  // Monaco's own JavaScript markers usually show these already: add only the missing ones.
  const shown = monaco.editor.getModelMarkers({ resource: model.uri, owner: 'javascript' });
  const missing = problems.filter((p) => !shown.some((m) => m.startLineNumber === p.line && m.startColumn === p.column));
  monaco.editor.setModelMarkers(
    model,
    'wsplay-check',
    missing.map((p) => ({
      severity: monaco.MarkerSeverity.Error,
      message: `${p.message} (client.js is not run while it has a syntax error)`,
      source: 'wsplay',
      startLineNumber: p.line,
      startColumn: p.column,
      endLineNumber: p.endLine,
      endColumn: p.endColumn,
    })),
  );
  return problems.map(({ line, column, message }) => ({ line, column, message }));
}

// ---- the editor widget ----------------------------------------------------------------------------

export interface EditorHandle {
  show(name: FileName): void;
  /** Read-only while the shown file is not loaded (typing there could not be saved). */
  refresh(): void;
  reveal(line: number, column?: number): void;
  focus(): void;
  dispose(): void;
}

const viewStates = new Map<FileName, monaco.editor.ICodeEditorViewState | null>();

export function mountEditor(container: HTMLElement, first: FileName): EditorHandle {
  const editor = monaco.editor.create(container, {
    model: modelFor(first),
    automaticLayout: true,
    minimap: { enabled: false },
    fontSize: 13,
    tabSize: 2,
    scrollBeyondLastLine: false,
    fixedOverflowWidgets: true,
    renderLineHighlight: 'line',
    ariaLabel: `${first} — code editor`,
    readOnly: !sessions[first].bound,
    readOnlyMessage: { value: 'This file is not loaded from the workspace yet.' },
    accessibilitySupport: 'auto',
    'semanticHighlighting.enabled': true,
  });
  let current = first;
  const vs = viewStates.get(first);
  if (vs) editor.restoreViewState(vs);
  return {
    show(name) {
      if (name === current) return;
      viewStates.set(current, editor.saveViewState());
      current = name;
      editor.setModel(modelFor(name));
      editor.updateOptions({ ariaLabel: `${name} — code editor`, readOnly: !sessions[name].bound });
      const state = viewStates.get(name);
      if (state) editor.restoreViewState(state);
    },
    refresh() {
      editor.updateOptions({ readOnly: !sessions[current].bound });
    },
    reveal(line, column = 1) {
      editor.revealLineInCenterIfOutsideViewport(line);
      editor.setPosition({ lineNumber: line, column });
      editor.focus();
    },
    focus() {
      editor.focus();
    },
    dispose() {
      viewStates.set(current, editor.saveViewState());
      editor.dispose();
    },
  };
}
