/**
 * Lesson 20's two server processes and its Redis, in the playground: while a lesson whose
 * lesson.json has a `cluster` is open, server.js runs once more (process b, beside the
 * playground's own LearnerServer, which becomes process a), a throwaway redis-server runs on a
 * free loopback port, and the wiretap hands new connections to a and b in turn. Both processes
 * get WSPLAY_INSTANCE and REDIS_URL. Everything stops when another lesson opens. Set up before the
 * playground's server.js restarts in the lesson's folder (prepare), so that restart is its only
 * one, and the other processes start after it (switchTo).
 */
import type { LessonCluster as ClusterSettings, LessonInfo } from '../../lessons/harness/format.ts';
import { LearnerServer } from '../runner/learner-server.ts';
import { findRedisServer, REDIS_MISSING, RedisServer } from '../runner/redis-server.ts';
import type { Workspace } from '../runner/workspace.ts';
import type { Wiretap } from '../tap/wiretap.ts';
import type { RunnerState, TopologyInfo } from './stream-protocol.ts';

export interface LessonClusterHooks {
  /** A line for the dashboard's console and the terminal, from wsplay. */
  info: (text: string) => void;
  /** A line server.js printed in another process than the playground's own (`instance` says which). */
  output: (instance: string, stream: 'stdout' | 'stderr', text: string) => void;
  /** The processes started, moved or stopped: pages read the topology anew. */
  changed: () => void;
}

const HOST = '127.0.0.1';

export class LessonCluster {
  private settings: ClusterSettings | null = null;
  private redis: RedisServer | null = null;
  /** The processes besides the playground's own server.js (which is the first instance). */
  private readonly others = new Map<string, LearnerServer>();
  /** Each instance's internal port, as it last said. */
  private readonly ports = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private cwd: string | null = null;
  /** The folder prepare() set up for, until switchTo() starts it. */
  private prepared: string | null = null;

  constructor(
    private readonly tap: Wiretap,
    /** The playground's own server.js: process a while the cluster runs. */
    private readonly primary: LearnerServer,
    private readonly hooks: LessonClusterHooks,
    private readonly env: Record<string, string> = {},
  ) {
    primary.on('port', (port: number) => {
      if (!this.settings) return;
      this.ports.set(this.settings.instances[0]!, port);
      this.retarget();
    });
    // server.js restarts (a save, or a file it requires): the other processes run the same file.
    // Not at its first start (the playground starting with the lesson open): they just started.
    let everStarted = false;
    primary.on('state', (s: RunnerState) => {
      if (s.status !== 'starting') return;
      const first = !everStarted;
      everStarted = true;
      if (first || !this.settings || this.primary.cwd !== this.cwd) return;
      for (const other of this.others.values()) other.scheduleRestart(0);
    });
  }

  /** The running instances and their internal ports, for the topology; null with one server. */
  get instances(): Array<{ instance: string; port: number }> | null {
    if (!this.settings) return null;
    return this.settings.instances.filter((n) => this.ports.has(n)).map((n) => ({ instance: n, port: this.ports.get(n)! }));
  }

  /** For the header: the processes that listen, in the wiretap's order, and their Redis; undefined with one server. */
  get topology(): TopologyInfo['cluster'] {
    const list = this.instances;
    if (!list || list.length === 0) return undefined;
    return { instances: list, ...(this.redis?.pid ? { redis: { host: HOST, port: this.redis.port } } : {}) };
  }

  get redisUrl(): string | null {
    return this.redis?.pid ? this.redis.url : null;
  }

  /**
   * Before a lesson opens (or the free playground: null), before the playground's server.js
   * restarts in its folder: the last lesson's processes and Redis stop, this one's Redis starts
   * and process a's environment is set, so that restart is process a's one start in the lesson.
   */
  prepare(lesson: LessonInfo | null, ws: Workspace): Promise<void> {
    return this.serial(() => this.setUp(lesson?.meta.cluster ?? null, ws.root));
  }

  /**
   * A lesson opened (or the free playground: null), server.js restarted in its folder: the other
   * processes start. Without prepare() first (or prepared for another folder), everything is set
   * up now and process a restarts once more to get its environment.
   */
  switchTo(lesson: LessonInfo | null, ws: Workspace): Promise<void> {
    return this.serial(async () => {
      const settings = lesson?.meta.cluster ?? null;
      const prepared = this.prepared === ws.root && this.settings === settings;
      if (!prepared) await this.setUp(settings, ws.root);
      await this.run(ws.root, !prepared);
    });
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async stopAll(): Promise<void> {
    const had = this.settings !== null;
    this.settings = null;
    this.tap.setTargets(null);
    await Promise.all([...this.others.values()].map((s) => s.stop(false)));
    this.others.clear();
    this.ports.clear();
    await this.redis?.stop();
    this.redis = null;
    this.cwd = null;
    this.primary.setEnv('WSPLAY_INSTANCE', undefined);
    this.primary.setEnv('REDIS_URL', undefined);
    if (had) this.hooks.changed();
  }

  /** Stop what runs; then this lesson's Redis, process a's environment, the other processes (not started). */
  private async setUp(settings: ClusterSettings | null, cwd: string): Promise<void> {
    await this.stopAll();
    this.prepared = cwd;
    if (!settings) return;
    const [first, ...rest] = settings.instances;
    let redisUrl = '';
    if (settings.redis) {
      const binary = findRedisServer();
      if (!binary) this.hooks.info(REDIS_MISSING);
      else {
        const redis = new RedisServer(binary);
        try {
          await redis.start();
          this.redis = redis;
          redisUrl = redis.url;
          this.hooks.info(`Redis for this lesson: ${redis.url} (redis-server pid ${redis.pid}, nothing saved to disk; it stops when you leave the lesson). server.js gets it as REDIS_URL.`);
        } catch (err) {
          this.hooks.info(`redis-server could not start: ${(err as Error).message}`);
        }
      }
    }
    this.settings = settings;
    // The playground's own server.js is the first instance: it restarts with the lesson's env.
    this.primary.setEnv('WSPLAY_INSTANCE', first!);
    if (redisUrl) this.primary.setEnv('REDIS_URL', redisUrl);
    for (const name of rest) {
      const server = new LearnerServer({ cwd, file: 'server.js', publicPort: 9900, env: { ...this.env, WSPLAY_INSTANCE: name, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) } });
      this.others.set(name, server);
      server.on('output', ({ stream, text }: { stream: 'stdout' | 'stderr'; text: string }) => this.hooks.output(name, stream, text));
      server.on('state', (s: RunnerState) => {
        if (s.message && s.status !== 'running' && s.status !== 'starting') this.hooks.info(`server.js (process ${name}): ${s.message}`);
      });
      server.on('stopping', () => this.tap.serverStopping());
      server.on('port', (port: number) => {
        this.ports.set(name, port);
        this.retarget();
      });
    }
    this.hooks.info(`This lesson runs server.js as ${settings.instances.length} processes (${settings.instances.join(', ')}), each with WSPLAY_INSTANCE; the wiretap hands new connections to them in turn.`);
  }

  /** Start the other processes (and process a again when its environment came after its start). */
  private async run(cwd: string, restartPrimary: boolean): Promise<void> {
    this.prepared = null;
    if (!this.settings) return;
    // Before the playground's first start (a lesson reopened at start-up), it starts on its own.
    const started = this.primary.state.status !== 'stopped' || this.primary.state.message !== undefined;
    await Promise.all([started && restartPrimary ? this.primary.restart() : null, ...[...this.others.values()].map((s) => s.start())]);
    // From now on a restart of the playground's server.js (a save) restarts the others too.
    this.cwd = cwd;
  }

  /** The wiretap's round robin, over the instances that listen, in their order. */
  private retarget(): void {
    const list = this.instances;
    if (!list) return;
    this.tap.setTargets(list.map(({ instance, port }) => ({ host: HOST, port, instance })));
    this.hooks.changed();
  }

  async close(): Promise<void> {
    const next = this.queue.then(() => this.stopAll());
    this.queue = next.catch(() => undefined);
    await next;
  }
}
