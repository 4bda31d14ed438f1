import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process a learner's server.js started, however it started it. Killing the child's
 * process group is not enough: a child spawned with `detached: true` makes its own session and
 * group (and its children theirs), and once server.js dies it is re-parented to init, so no
 * parent link leads to it either. What every descendant still has is the environment it
 * inherited: each start puts a fresh random tag in server.js's environment, and stopping ends
 * every process whose environment holds that tag (Linux /proc; elsewhere only the group is
 * ended, as before). A process that clears its own environment escapes this; nothing a learner
 * writes by accident does.
 */
export const RUN_TAG = 'WSPLAY_RUN_TAG';

/** A fresh tag for one start of a server process. */
export function newRunTag(): string {
  return randomBytes(12).toString('base64url');
}

/** The processes (this one excepted) whose environment carries RUN_TAG=tag, from /proc. */
export function taggedProcesses(tag: string): number[] {
  const needle = Buffer.from(`\0${RUN_TAG}=${tag}\0`);
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, a zombie, or another user's
    }
    // Variables are NUL-separated with no NUL before the first: add one each side to match whole.
    if (Buffer.concat([Buffer.from([0]), env, Buffer.from([0])]).includes(needle)) found.push(Number(entry));
  }
  return found;
}

/** Send `signal` to every process tagged `tag`; returns how many were sent it. */
export function signalTagged(tag: string, signal: NodeJS.Signals): number {
  let sent = 0;
  for (const pid of taggedProcesses(tag)) {
    try {
      process.kill(pid, signal);
      sent++;
    } catch {
      // Already gone.
    }
  }
  return sent;
}
