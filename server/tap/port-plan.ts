import net from 'node:net';
import { findPortOwner, ownerText } from './port-owner.ts';
import { parsePort } from './target.ts';

/**
 * Which ports wsplay listens on, decided before anything starts. A default port that another
 * program holds (a playground already running, say) moves to a free one and says so; a port the
 * user named is theirs to change, so a taken one is an error that suggests one command, every
 * flag kept, with a free port in place of each taken one.
 */

export class PortError extends Error {}

export interface PortRequest {
  flag: '--port' | '--dashboard-port';
  /** Named in messages: "the wiretap", "the dashboard". */
  what: string;
  /** As typed; undefined when the user did not name the port. */
  value: string | undefined;
  fallback: number;
}

export interface PortPlan {
  /** One per request, in order; 0 lets the system pick. */
  ports: number[];
  /** What moved and why, to print before starting. */
  notes: string[];
}

/** Can a server listen on 127.0.0.1:port now? */
export function isFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = net.createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

/** The next free port in steps of 10 (9900 → 9910, 9901 → 9911: the pair stays a pair); 0 when none of 20 is. */
async function nextFree(from: number, avoid: number[]): Promise<number> {
  for (let p = from + 10, tries = 0; p <= 65535 && tries < 20; p += 10, tries++) {
    if (!avoid.includes(p) && (await isFree(p))) return p;
  }
  return 0;
}

const labelOf = (r: PortRequest, port: number) => (r.flag === '--port' ? `Port ${port}` : `Dashboard port ${port}`);

/**
 * Decide the ports. `retry(changes)` writes the command the user typed with those flags changed.
 * Throws PortError (one line) when a port the user named is taken.
 */
export async function planPorts(requests: PortRequest[], retry: (changes: Record<string, number>) => string): Promise<PortPlan> {
  const ports: number[] = [];
  const notes: string[] = [];
  const problems: string[] = [];
  const changes: Record<string, number> = {};
  for (const r of requests) {
    const wanted = parsePort(r.value, r.fallback, r.flag);
    if (wanted === 0 || (!ports.includes(wanted) && (await isFree(wanted)))) {
      ports.push(wanted);
      continue;
    }
    const who = ports.includes(wanted) ? ` by ${requests[ports.indexOf(wanted)]!.what}` : ownerText(findPortOwner(wanted));
    const instead = await nextFree(wanted, ports);
    ports.push(instead);
    if (r.value === undefined) {
      notes.push(`${labelOf(r, wanted)} is in use${who}: ${r.what} listens on ${instead === 0 ? 'a free port' : `port ${instead}`} instead (${r.flag} N to choose).`);
    } else {
      problems.push(`${labelOf(r, wanted)} is in use${who}`);
      changes[r.flag] = instead;
    }
  }
  if (problems.length > 0) throw new PortError(`${problems.join('; ')}. Stop it or run: ${retry(changes)}`);
  return { ports, notes };
}

/**
 * The command the user typed (`prefix` and its arguments), with the values of the flags in
 * `changes` replaced (or added), quoted for a POSIX shell where needed.
 */
export function commandWith(prefix: string, args: string[], changes: Record<string, number>): string {
  const out: string[] = [];
  const done = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = /^(--[\w-]+)=/.exec(a);
    const flag = eq ? eq[1]! : a;
    if (Object.hasOwn(changes, flag)) {
      out.push(flag, String(changes[flag]));
      done.add(flag);
      if (!eq) i++; // its value
      continue;
    }
    out.push(a);
  }
  for (const [flag, value] of Object.entries(changes)) if (!done.has(flag)) out.push(flag, String(value));
  return [prefix, ...out.map(shellQuote)].join(' ');
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
