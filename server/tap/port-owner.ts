import { readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Which process listens on a TCP port, for the "port in use" message. Linux only and best
 * effort (reads /proc); undefined wherever that is not possible.
 */
export function findListeningPid(port: number): number | undefined {
  try {
    const inodes = new Set<string>();
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; column 9 is the inode.
        if (cols.length > 9 && cols[3] === '0A' && parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && inodes.has(m[1]!)) return Number(pid);
        } catch {
          // The fd closed while we looked.
        }
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * A running wsplay says where it is in a note in the temp folder (wsplay-PID.json, no token in
 * it, removed when it exits), so another wsplay that finds a port taken can say "by another
 * wsplay (pid N, its dashboard at http://127.0.0.1:9901/)" instead of "another program".
 */
export interface WsplayNote {
  command: string;
  wiretap: number;
  /** The dashboard's address without its token; null with --no-dashboard. */
  dashboard: string | null;
}

const noteFile = (pid: number) => join(tmpdir(), `wsplay-${pid}.json`);

/** Write this process's note (again after each change); it is removed when the process exits. */
export function announceSelf(note: WsplayNote): void {
  const file = noteFile(process.pid);
  try {
    writeFileSync(file, JSON.stringify(note));
  } catch {
    return; // No temp folder to write to: others will say "another program", no more.
  }
  if (announced) return;
  announced = true;
  process.once('exit', () => {
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  });
}
let announced = false;

export interface PortOwner {
  pid: number;
  /** Set when the program is a wsplay; its note's fields are null when it left none. */
  wsplay: { dashboard: string | null } | null;
}

/** Who listens on a port: its pid, and whether it is a wsplay (Linux, best effort). */
export function findPortOwner(port: number): PortOwner | undefined {
  const pid = findListeningPid(port);
  if (pid === undefined) return undefined;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return { pid, wsplay: null };
  }
  // The command line decides: a note left by a wsplay killed outright may outlive it, and its
  // pid may now be another program's.
  if (!/wsplay/.test(cmdline)) return { pid, wsplay: null };
  let dashboard: string | null = null;
  try {
    const note = JSON.parse(readFileSync(noteFile(pid), 'utf8')) as Partial<WsplayNote>;
    // A note is read, not trusted: only a loopback http address is repeated to the user.
    if (typeof note.dashboard === 'string' && /^http:\/\/127\.0\.0\.1:\d{1,5}\/$/.test(note.dashboard)) dashboard = note.dashboard;
  } catch {
    // No note (an older wsplay, or --no-dashboard): it is a wsplay all the same.
  }
  return { pid, wsplay: { dashboard } };
}

/** " by another wsplay (pid 1234, its dashboard at http://127.0.0.1:9901/)", " by another program (pid 1234)" or "". */
export function ownerText(owner: PortOwner | undefined): string {
  if (!owner) return '';
  if (owner.wsplay) return ` by another wsplay (pid ${owner.pid}${owner.wsplay.dashboard ? `, its dashboard at ${owner.wsplay.dashboard}` : ''})`;
  return ` by another program (pid ${owner.pid})`;
}
