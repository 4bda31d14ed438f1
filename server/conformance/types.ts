/**
 * The conformance ladder's contract: what a case is, what running one found, and the runner's
 * API. Autobahn|Testsuite's numbering, groups, verdicts and close behaviour, re-told in our own
 * words (see cases.ts). Pure types: the dashboard (Conformance view) imports this module
 * without pulling in Node-only code.
 */
import type { Direction } from '../capture/events.ts';

/**
 * Autobahn's verdicts. PASS: the peer did what the case expects. NON-STRICT: it did something
 * the RFC allows but the case prefers otherwise (e.g. failing a text message on invalid UTF-8
 * only once the message is complete, not at the first bad fragment): `nonStrictWhy` says why.
 * FAIL: the peer broke a MUST. INFORMATIONAL: the RFC leaves the choice to the peer; the case
 * only reports what it did. UNIMPLEMENTED: the peer does not offer what the case tests (e.g. it
 * declined permessage-deflate).
 */
export type Verdict = 'PASS' | 'NON-STRICT' | 'FAIL' | 'INFORMATIONAL' | 'UNIMPLEMENTED';

/**
 * The User-Agent of the runner's handshakes: the insight engine knows its connections by it (the
 * runner sends reserved close codes and reconnects case after case on purpose).
 */
export const CONFORMANCE_USER_AGENT = 'wsplay-conformance';

export const VERDICTS: readonly Verdict[] = ['PASS', 'NON-STRICT', 'FAIL', 'INFORMATIONAL', 'UNIMPLEMENTED'];

/** Autobahn's groups (8, 10 and 11 have no cases there either). */
export type CaseGroup = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 9 | 12 | 13;

export const GROUP_TITLES: Record<CaseGroup, string> = {
  1: 'Framing',
  2: 'Pings and pongs',
  3: 'Reserved bits',
  4: 'Opcodes',
  5: 'Fragmentation',
  6: 'UTF-8 handling',
  7: 'Close handling',
  9: 'Limits and performance',
  12: 'permessage-deflate: messages',
  13: 'permessage-deflate: parameters',
};

/** One case of the ladder, as a person reads it (the runner's script lives beside it). */
export interface CaseDef {
  /** Autobahn's id: "1.1.1", "6.4.3", "7.9.2". */
  id: string;
  group: CaseGroup;
  /** The sub-group's title, e.g. "Text messages" for 1.1.x. */
  title: string;
  /** What the case sends, in our words. */
  description: string;
  /** What a conforming peer must (or may) do. */
  expectation: string;
  /** Where RFC 6455 / 7692 says so, and the sentence itself. */
  rfc: { section: string; must: string };
  /** For a learner whose peer fails the case: where to look, what to change. */
  hint: string;
}

/** Who sent the first close frame or, when none was sent, who ended TCP first. */
export type Closer = 'client' | 'server' | 'none';

/**
 * How the connection ended, Autobahn's "close behaviour". Roles are named by the RFC's sides
 * (client, server), not "me" and "peer": in `--client` mode the runner is the server.
 */
export interface BehaviorClose {
  /** Autobahn's judgement of the close alone. */
  verdict: 'OK' | 'WRONG CODE' | 'UNCLEAN' | 'FAILED' | 'FAILED BY CLIENT' | 'INFORMATIONAL';
  /** Who started the close (first close frame, or first to end TCP when there was none). */
  closedBy: Closer;
  /** Both close frames went across before TCP ended (§7.1.4 "cleanly"). */
  clean: boolean;
  /** Close code in the client's close frame: null when its body was empty, absent when it sent none. */
  clientCode?: number | null;
  /** Close code in the server's close frame: null when its body was empty, absent when it sent none. */
  serverCode?: number | null;
  /** Who ended the TCP connection first ('none': the case timed out and the runner cut it). */
  droppedBy: Closer;
  /** What the case expected of the close, one sentence. */
  expected: string;
  /** Why the verdict, one sentence. */
  why: string;
}

export interface CaseResult {
  id: string;
  group: CaseGroup;
  description: string;
  expectation: string;
  verdict: Verdict;
  /** What the peer did, in a sentence or two ("echoed 7 of 7 messages, then closed with 1000"). */
  observed: string;
  behaviorClose: BehaviorClose;
  durationMs: number;
  /** NON-STRICT only: why the RFC allows what the peer did, and what the case prefers. */
  nonStrictWhy?: string;
  /**
   * The runner's TCP port on 127.0.0.1 for this case's connection, so a caller that put a
   * wiretap in between maps the case to its connection (OpenEvent.client ends in `:PORT`).
   * Absent when no TCP connection was made.
   */
  localPort?: number;
  /**
   * The frame the case is about (the one the peer should have rejected, or answered wrongly):
   * its direction, its `seq` among this connection's frames in that direction (0-based, as
   * FrameEvent.seq), and the byte offset of the offending bytes within the frame.
   */
  offending?: { dir: Direction; frameSeq?: number; byteOffset?: number };
}

export interface Report {
  cases: CaseResult[];
}

export interface RunServerOptions {
  /** ws://host:port[/path] to connect to: the wiretap's port, so traffic is captured. */
  url: string;
  /** Autobahn-style selection: "1-7", "5.*", "6.4.1", "9", comma-separated; all when absent. */
  cases?: string;
  /** Called as each case ends, in order. */
  onResult?: (result: CaseResult) => void;
  /** Aborting ends the case under way (its connection is cut) and skips the rest. */
  signal?: AbortSignal;
}

export type RunServerCases = (options: RunServerOptions) => Promise<Report>;
