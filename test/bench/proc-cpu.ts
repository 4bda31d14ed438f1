/**
 * Where the machine's cores went during a stretch of the bench, per process, read from Linux's
 * /proc (utime + stime of each process, /proc/stat for the whole machine). The dashboard bench
 * (test/bench/dashboard.ts) prints it over its flood: the page's long tasks are long in wall time
 * because the renderer waits for a core, so every core-millisecond the playground and the load
 * generator spend is one the page does not get.
 *
 * Elsewhere than Linux it reads nothing and says so.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  ppid: number;
  /** utime + stime, in ticks. */
  cpu: number;
}

function statOf(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields count from after it.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Busy and total ticks of the whole machine (all cores), from /proc/stat's first line. */
function machine(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    // idle and iowait are not busy.
    return { busy: total - f[3]! - f[4]!, total };
  } catch {
    return null;
  }
}

/** Every process under `root` (itself included), with its CPU time now. */
function tree(root: number): Map<number, Stat> {
  const all = new Map<number, Stat>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return all;
  }
  for (const p of pids) {
    const s = statOf(Number(p));
    if (s) all.set(Number(p), s);
  }
  const mine = new Map<number, Stat>();
  const under = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      p = all.get(p)?.ppid ?? 0;
    }
    return false;
  };
  for (const [pid, s] of all) if (under(pid)) mine.set(pid, s);
  return mine;
}

/** A person's name for a process of the bench, by its command line. */
export type Namer = (pid: number, argv: string[]) => string;

export interface CpuShare {
  name: string;
  /** CPU seconds it used in the stretch. */
  seconds: number;
  /** …as a percentage of one core (200 % is both cores of a 2-core machine). */
  percent: number;
  /** Processes counted under this name. */
  processes: number;
}

export interface CpuReport {
  wallSeconds: number;
  shares: CpuShare[];
  /** All cores busy, in % of one core, and the machine's cores; null without /proc/stat. */
  machineBusy: number | null;
  cores: number;
}

/**
 * Start counting: call `stop()` at the end of the stretch. The bench's processes are `root` and
 * everything under it; processes that start during the stretch count from 0, those that end
 * during it are not counted (their time is not in /proc any more).
 */
export function cpuWatch(root: number, name: Namer): { stop(): CpuReport } {
  const t0 = process.hrtime.bigint();
  const before = tree(root);
  const m0 = machine();
  return {
    stop(): CpuReport {
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const after = tree(root);
      const m1 = machine();
      const byName = new Map<string, CpuShare>();
      for (const [pid, s] of after) {
        const ticks = s.cpu - (before.get(pid)?.cpu ?? 0);
        const label = name(pid, cmdlineOf(pid));
        const share = byName.get(label) ?? { name: label, seconds: 0, percent: 0, processes: 0 };
        share.seconds += ticks / TICKS;
        share.processes++;
        byName.set(label, share);
      }
      const shares = [...byName.values()].filter((s) => s.seconds > 0 || s.processes > 0);
      for (const s of shares) s.percent = wallSeconds > 0 ? (100 * s.seconds) / wallSeconds : 0;
      shares.sort((a, b) => b.seconds - a.seconds);
      let cores = 1;
      try {
        cores = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length || 1;
      } catch {
        /* one */
      }
      const machineBusy = m0 && m1 && m1.total > m0.total ? (100 * cores * (m1.busy - m0.busy)) / (m1.total - m0.total) : null;
      return { wallSeconds, shares, machineBusy, cores };
    },
  };
}

/** One line for the bench's output: each process's share, and what the rest of the machine took. */
export function cpuLine(r: CpuReport): string {
  const parts = r.shares.map((s) => `${s.name} ${s.percent.toFixed(0)} %${s.processes > 1 ? ` (${s.processes} processes)` : ''}`);
  const ours = r.shares.reduce((a, s) => a + s.percent, 0);
  const rest = r.machineBusy === null ? '' : `; the rest of the machine ${Math.max(0, r.machineBusy - ours).toFixed(0)} %, idle ${Math.max(0, 100 * r.cores - r.machineBusy).toFixed(0)} %`;
  return `CPU over ${r.wallSeconds.toFixed(1)} s, % of one core (${r.cores} cores = ${100 * r.cores} %): ${parts.join(', ')}${rest}`;
}

/**
 * Wait until the whole machine is nearly idle (under `share` of all its cores busy over a
 * `windowMs` window), at most `maxMs`; resolves to how long it waited. A load begun while the
 * browser is still starting its tracing (a new process, every process's trace buffers) would
 * measure the bench's instrument along with the page.
 */
export async function machineSettled(share = 0.15, windowMs = 200, maxMs = 5000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = machine();
    await new Promise((r) => setTimeout(r, windowMs));
    const b = machine();
    const waited = performance.now() - t0;
    if (!a || !b || b.total === a.total) return waited;
    if ((b.busy - a.busy) / (b.total - a.total) < share || waited >= maxMs) return waited;
  }
}
