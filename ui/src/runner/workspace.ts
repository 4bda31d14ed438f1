import { effect, signal } from '@preact/signals';
import { activeWorkspace, fileChanges, tokenFromUrl } from '../state.ts';

/**
 * The learner's files on disk (the free playground's workspace/client.js and server.js, or an
 * open lesson's workspace/NN-slug/ files, which may include others such as accept.js) as the
 * editor sees them: loading, saving as they type (debounced), saving before a run, reloading
 * what another editor changed on disk, resetting to the starter. No Monaco here: the editor
 * binds a text getter and setter to each file once Monaco is loaded (monaco-setup.ts), so the
 * page stays light until the Editor tab is opened.
 */

/** A file of the active workspace: client.js, server.js, or another file a lesson has. */
export type FileName = string;

/** The active workspace's files, in the editor's order (GET /api/files; the stream's `workspace` messages). */
export const workspaceFiles = signal<readonly FileName[]>(['client.js', 'server.js']);
/** Bumped when the files are another folder's (a lesson opened): the editor loads them all again. */
export const workspaceGeneration = signal(0);
/** The file shown in the editor. */
export const activeFile = signal<FileName>('client.js');

export type SaveState = 'loading' | 'saved' | 'dirty' | 'saving' | 'error';
export interface FileStatus {
  state: SaveState;
  /** Why the last load or save failed. */
  error?: string;
  /** When the file was last saved by this page or loaded from disk (Date.now()). */
  at?: number;
}

export const fileStatus = signal<Record<FileName, FileStatus>>({
  'client.js': { state: 'loading' },
  'server.js': { state: 'loading' },
});

/** A file's status, `loading` for a file not known yet. */
export function statusOf(name: FileName): FileStatus {
  return fileStatus.value[name] ?? { state: 'loading' };
}

/**
 * A file changed on disk (another editor) while this page had edits it had not saved yet: the
 * learner chooses which to keep. Null when there is nothing to decide.
 */
export const conflict = signal<{ name: FileName; disk: string } | null>(null);

export const SAVE_DEBOUNCE_MS = 500;

function setStatus(name: FileName, s: FileStatus): void {
  fileStatus.value = { ...fileStatus.value, [name]: s };
}

/** A request to the playground's API with the session token; rejects with the error's text on a non-2xx status. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('X-Wsplay-Token', tokenFromUrl());
  const res = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (!res.ok) {
    let detail = '';
    try {
      const body = await res.text();
      try {
        detail = (JSON.parse(body) as { error?: string }).error ?? body;
      } catch {
        detail = body;
      }
    } catch {
      detail = '';
    }
    throw new Error(`${res.status} ${res.statusText}${detail ? `: ${detail.trim().slice(0, 300)}` : ''}`);
  }
  return res;
}

export async function fetchFile(name: FileName): Promise<string> {
  return (await api(`/api/files/${encodeURIComponent(name)}`)).text();
}

export async function fetchTypes(name: 'ws.d.ts' | 'node.d.ts'): Promise<string | null> {
  try {
    return await (await api(`/api/types/${name}`)).text();
  } catch {
    return null;
  }
}

/** Restart the learner's server (POST /api/server/restart). */
export async function restartServer(): Promise<void> {
  await api('/api/server/restart', { method: 'POST' });
}

export interface TextBinding {
  get(): string;
  /** Replace the text (an external change or a reset): not a learner's edit, so not saved back. */
  set(text: string): void;
}

class FileSession {
  /** The text as last saved to (or loaded from) disk, or null before the first load. */
  lastSaved: string | null = null;
  private binding: TextBinding | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<void> | null = null;

  constructor(readonly name: FileName) {}

  bind(b: TextBinding | null): void {
    this.binding = b;
  }

  /** The editor's text, or the disk's as last loaded (null: not loaded yet). */
  text(): string | null {
    return this.binding ? this.binding.get() : this.lastSaved;
  }

  /** This file is no longer the workspace's (another lesson opened): stop saving it. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.binding = null;
  }

  /**
   * Replace the file with `text` (a lesson's code button): written to disk now, and put in the
   * editor as one undoable edit. Resolves once the disk has it.
   */
  async replaceWith(text: string): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inflight) await this.inflight.catch(() => undefined);
    setStatus(this.name, { state: 'saving' });
    try {
      await api(`/api/files/${encodeURIComponent(this.name)}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        body: text,
      });
    } catch (err) {
      setStatus(this.name, { state: 'error', error: `not saved: ${(err as Error).message}` });
      throw err;
    }
    if (conflict.value?.name === this.name) conflict.value = null;
    if (this.lastSaved === null && !this.binding) {
      setStatus(this.name, { state: 'saved', at: Date.now() });
      return;
    }
    this.applyDisk(text);
  }

  get bound(): boolean {
    return this.binding !== null;
  }

  /** Local edits not on disk yet (typed, or saving). */
  get unsaved(): boolean {
    return this.binding !== null && this.lastSaved !== null && this.binding.get() !== this.lastSaved;
  }

  async load(): Promise<string> {
    setStatus(this.name, { state: 'loading' });
    try {
      const text = await fetchFile(this.name);
      this.lastSaved = text;
      setStatus(this.name, { state: 'saved', at: Date.now() });
      return text;
    } catch (err) {
      setStatus(this.name, { state: 'error', error: `could not load: ${(err as Error).message}` });
      throw err;
    }
  }

  private get conflicted(): boolean {
    return conflict.value?.name === this.name;
  }

  /** The learner typed: save after a pause (not while the disk's newer text awaits a choice). */
  edited(): void {
    if (this.lastSaved === null) return;
    if (this.timer) clearTimeout(this.timer);
    if (this.conflicted) return;
    const dirty = this.unsaved;
    if (statusOf(this.name).state !== 'saving') setStatus(this.name, dirty ? { state: 'dirty' } : { state: 'saved', at: statusOf(this.name).at });
    if (!dirty) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save().catch(() => undefined);
    }, SAVE_DEBOUNCE_MS);
  }

  /** Save now (Ctrl/Cmd+S, before a run). Resolves once the disk has the editor's text. */
  async save(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // One PUT at a time, in order: wait for the one in flight, then save what is newer.
    while (this.inflight) await this.inflight.catch(() => undefined);
    if (!this.binding || this.lastSaved === null) return;
    if (this.conflicted) {
      setStatus(this.name, { state: 'error', error: 'changed on disk: keep yours or load the disk version' });
      throw new Error(`${this.name} changed on disk while you had unsaved edits: choose which version to keep`);
    }
    const text = this.binding.get();
    // Never PUT what the disk already has: saving server.js restarts the learner's server.
    if (text === this.lastSaved) {
      if (statusOf(this.name).state !== 'saved') setStatus(this.name, { state: 'saved', at: Date.now() });
      return;
    }
    setStatus(this.name, { state: 'saving' });
    const put = (async () => {
      try {
        await api(`/api/files/${encodeURIComponent(this.name)}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'text/plain; charset=utf-8' },
          body: text,
        });
        this.lastSaved = text;
        const newer = this.binding !== null && this.binding.get() !== text;
        setStatus(this.name, newer ? { state: 'dirty' } : { state: 'saved', at: Date.now() });
        if (newer) this.edited();
      } catch (err) {
        setStatus(this.name, { state: 'error', error: `not saved: ${(err as Error).message}` });
        throw err;
      }
    })();
    this.inflight = put;
    try {
      await put;
    } finally {
      this.inflight = null;
    }
  }

  /** Put the disk's text in the editor (an external change accepted, a reset). */
  applyDisk(text: string): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.lastSaved = text;
    if (this.binding && this.binding.get() !== text) this.binding.set(text);
    setStatus(this.name, { state: 'saved', at: Date.now() });
  }

  /** The file changed on disk (another editor): reload it, or ask when there are local edits. */
  async external(): Promise<void> {
    if (this.lastSaved === null) return;
    let disk: string;
    try {
      disk = await fetchFile(this.name);
    } catch {
      return;
    }
    const mine = this.binding?.get() ?? this.lastSaved;
    if (disk === mine) {
      // Our own save echoed back, or the same text: nothing to do.
      this.lastSaved = disk;
      if (!this.unsaved) setStatus(this.name, { state: 'saved', at: Date.now() });
      return;
    }
    if (this.unsaved || this.inflight || this.timer) {
      // Ask; until then nothing is saved over the disk's text.
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      conflict.value = { name: this.name, disk };
      setStatus(this.name, { state: 'dirty' });
      return;
    }
    this.applyDisk(disk);
  }

  async reset(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inflight) await this.inflight.catch(() => undefined);
    setStatus(this.name, { state: 'saving' });
    try {
      const res = await api(`/api/files/${encodeURIComponent(this.name)}/reset`, { method: 'POST' });
      const body = (await res.json()) as { content?: string };
      const text = typeof body.content === 'string' ? body.content : await fetchFile(this.name);
      this.applyDisk(text);
    } catch (err) {
      setStatus(this.name, { state: 'error', error: `reset failed: ${(err as Error).message}` });
      throw err;
    }
  }
}

/** One session per file of the active workspace (replaced when another workspace opens). */
export const sessions: Record<FileName, FileSession> = {
  'client.js': new FileSession('client.js'),
  'server.js': new FileSession('server.js'),
};

/** Save every file with unsaved edits (before a run; Ctrl/Cmd+S). Rejects if one fails. */
export async function saveAll(): Promise<void> {
  await Promise.all(Object.values(sessions).map((s) => s.save()));
}

/** Which workspace the sessions are for: `lesson|file,file`. */
let workspaceKey = 'null|client.js,server.js';

/**
 * The files are now `files` of `lesson` (null: the free playground). When that is another
 * workspace than the sessions are for, every session is dropped (its pending save too: the
 * lesson pane saves before it switches) and the editor loads the new files.
 */
export function switchWorkspace(lesson: string | null, files: readonly FileName[]): void {
  const key = `${lesson}|${files.join(',')}`;
  if (key === workspaceKey) return;
  workspaceKey = key;
  for (const s of Object.values(sessions)) s.dispose();
  for (const name of Object.keys(sessions)) delete sessions[name];
  const status: Record<FileName, FileStatus> = {};
  for (const name of files) {
    sessions[name] = new FileSession(name);
    status[name] = { state: 'loading' };
  }
  conflict.value = null;
  fileStatus.value = status;
  workspaceFiles.value = [...files];
  if (!files.includes(activeFile.value)) activeFile.value = files[0] ?? 'client.js';
  workspaceGeneration.value++;
}

/** The active workspace's file list (GET /api/files), for the editor's tabs. */
export async function fetchFileList(): Promise<FileName[]> {
  const list = (await (await api('/api/files')).json()) as Array<{ name: string }>;
  return list.map((f) => f.name);
}

// The stream says which workspace is in use (on every (re)connect, and when a lesson opens).
effect(() => {
  const ws = activeWorkspace.value;
  if (ws) switchWorkspace(ws.lesson, ws.files);
});

/** Keep the editor's text (overwrite the disk) or take the disk's, after a conflict. */
export async function resolveConflict(keep: 'mine' | 'disk'): Promise<void> {
  const c = conflict.value;
  if (!c) return;
  conflict.value = null;
  const s = sessions[c.name];
  if (!s) return;
  if (keep === 'disk') s.applyDisk(c.disk);
  else {
    s.lastSaved = c.disk;
    await s.save();
  }
}

// A workspace file changed on disk from outside the dashboard (the `fileChanges` signal, fed by
// the event stream): reload it into the editor, or ask when this page has unsaved edits.
effect(() => {
  const name = fileChanges.value?.name;
  if (name) void sessions[name]?.external();
});
