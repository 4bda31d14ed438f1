import { join } from 'node:path';
import { LESSONS_DIR, listLessons, type LessonInfo } from '../../lessons/harness/format.ts';
import { lessonWorkspace } from '../../lessons/harness/workspace.ts';
import { Workspace } from '../runner/workspace.ts';
import type { FileInfo, RunnerState } from './stream-protocol.ts';
import type { LearnerBridge } from './learner-bridge.ts';
import { ProgressStore } from './lesson-progress.ts';

export interface Switched {
  /** The open lesson's folder name, or null: the free playground. */
  lesson: string | null;
  files: FileInfo[];
  /** Where the files are. */
  dir: string;
  runner: RunnerState;
}

export interface ActiveWorkspaceOptions {
  /** Where the lessons are (default lessons/ of the project). */
  lessonsDir?: string;
}

/**
 * Which files the playground works on: the free playground's (the workspace folder's own
 * client.js and server.js) or one lesson's (`<workspace>/NN-slug/`, seeded from the lesson's
 * starter/ the first time it opens). Opening a lesson moves everything there: the editor's files
 * (/api/files, /workspace/client.js), the learner's server (restarted in that folder, behind the
 * same wiretap) and the stream's `workspace` message that tells pages to reload.
 */
export class ActiveWorkspace {
  /** The workspace folder: the free playground's files, the lessons' folders, progress.json. */
  readonly root: string;
  readonly lessonsDir: string;
  readonly progress: ProgressStore;
  private readonly free: Workspace;
  /**
   * Called before each switch restarts server.js (what its environment needs ready: lesson 20's
   * Redis and process name), so that restart is its only one.
   */
  beforeSwitch: ((lesson: LessonInfo | null, ws: Workspace) => Promise<void> | void) | null = null;
  /** Called after each switch (a lesson's own services follow it: lesson 13's reverse proxy). */
  onSwitch: ((lesson: LessonInfo | null, ws: Workspace) => Promise<void> | void) | null = null;
  /** Switches happen one after the other (two quick clicks must not interleave restarts). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bridge: LearnerBridge,
    opts: ActiveWorkspaceOptions = {},
  ) {
    this.free = bridge.workspace;
    this.root = this.free.root;
    this.lessonsDir = opts.lessonsDir ?? LESSONS_DIR;
    this.progress = new ProgressStore(this.root);
  }

  /** The files the dashboard serves and edits now. */
  get current(): Workspace {
    return this.bridge.workspace;
  }

  /** The open lesson's folder name, or null. */
  get lesson(): string | null {
    return this.bridge.lesson;
  }

  lessons(): LessonInfo[] {
    return listLessons(this.lessonsDir);
  }

  /** A lesson by its folder name (`04-sending-too-early`) or number (`04`, `4`). */
  find(id: string): LessonInfo | null {
    const all = this.lessons();
    if (/^\d{1,2}$/.test(id)) return all.find((l) => l.number === id.padStart(2, '0')) ?? null;
    return all.find((l) => l.slug === id) ?? null;
  }

  /** The lesson's folder in the workspace, seeded from its starter when missing. */
  lessonDir(lesson: LessonInfo): string {
    return lessonWorkspace(lesson.dir, lesson.slug, { WSPLAY_WORKSPACE: this.root }).dir;
  }

  /** The lesson's files (a file missing from its folder comes back from the starter). */
  private workspaceOf(lesson: LessonInfo): Workspace {
    return new Workspace(this.lessonDir(lesson), join(lesson.dir, 'starter'));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private switched(runner: RunnerState): Switched {
    const ws = this.current;
    return { lesson: this.lesson, files: ws.list(), dir: ws.root, runner };
  }

  /** Open a lesson: its files in the editor, server.js restarted in its folder. */
  open(lesson: LessonInfo): Promise<Switched> {
    return this.serial(async () => {
      const ws = this.workspaceOf(lesson);
      await this.beforeSwitch?.(lesson, ws);
      const runner = await this.bridge.switchWorkspace(ws, lesson.slug);
      this.progress.setCurrent(lesson.slug);
      await this.onSwitch?.(lesson, ws);
      return this.switched(runner);
    });
  }

  /** Back to the free playground (the workspace folder's own files). */
  leave(): Promise<Switched> {
    return this.serial(async () => {
      await this.beforeSwitch?.(null, this.free);
      const runner = await this.bridge.switchWorkspace(this.free, null);
      this.progress.setCurrent(null);
      await this.onSwitch?.(null, this.free);
      return this.switched(runner);
    });
  }

  /**
   * Before the learner's server first starts: reopen the lesson that was open when the playground
   * stopped (progress.json's `current`). Returns it, or null (the free playground).
   */
  async restore(): Promise<LessonInfo | null> {
    const slug = this.progress.get().current;
    const lesson = slug ? this.find(slug) : null;
    if (!lesson) return null;
    const ws = this.workspaceOf(lesson);
    await this.beforeSwitch?.(lesson, ws);
    await this.bridge.switchWorkspace(ws, lesson.slug, false);
    await this.onSwitch?.(lesson, ws);
    return lesson;
  }
}
