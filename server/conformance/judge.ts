/**
 * From what happened on a case's connection to its verdict, the way Autobahn's Case class
 * decides: the received list against the expected outcomes, then the close on its own
 * (who closed, clean or not, the peer's code). Where Autobahn only colours the close cell, we
 * turn a broken MUST into FAIL and say which: a peer that did not fail the connection when it
 * had to, that never answered a close frame, or that sent what the RFC forbids.
 */
import type { Case, CloseExpect, Script } from './cases.ts';
import type { Item, Session } from './session.ts';
import type { BehaviorClose, CaseResult, Closer, Verdict } from './types.ts';

function same(a: Item, b: Item): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'timeout') return a.tag === (b as typeof a).tag;
  if (a.kind === 'message' && a.binary !== (b as typeof a).binary) return false;
  return (a as { data: Buffer }).data.equals((b as { data: Buffer }).data);
}

export const sameList = (a: readonly Item[], b: readonly Item[]): boolean => a.length === b.length && a.every((x, i) => same(x, b[i]!));
export const isPrefix = (a: readonly Item[], b: readonly Item[]): boolean => a.length <= b.length && a.every((x, i) => same(x, b[i]!));

/** A peer's text made safe for a terminal: control characters (C0, DEL, C1) as \\u escapes. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A payload as a person reads it: text when it is UTF-8, else hex; the middle of long ones elided. */
export function show(data: Buffer): string {
  const n = data.length;
  const head = data.subarray(0, 24);
  let s: string;
  try {
    s = printable(JSON.stringify(new TextDecoder('utf-8', { fatal: true }).decode(head)));
  } catch {
    s = head.toString('hex').replace(/(..)/g, '$1 ').trim();
  }
  return `${n > 24 ? `${s.replace(/"$/, '')}…${s.endsWith('"') ? '"' : ''}` : s} [${n} bytes]`;
}

export function describeItem(i: Item): string {
  switch (i.kind) {
    case 'message':
      return `${i.binary ? 'binary' : 'text'} message ${show(i.data)}`;
    case 'pong':
      return `pong ${show(i.data)}`;
    case 'ping':
      return `ping ${show(i.data)}`;
    case 'timeout':
      return `checkpoint ${i.tag} passed with the connection open`;
  }
}

function describeList(items: readonly Item[]): string {
  if (items.length === 0) return 'nothing';
  const shown = items.slice(0, 4).map(describeItem);
  return items.length > 4 ? `${shown.join(', ')} and ${items.length - 4} more` : shown.join(', ');
}

const codeText = (c: number | null | undefined): string => (c === undefined ? 'no close frame' : c === null ? 'a close frame with no code' : `close ${c}`);

function closeExpectText(c: CloseExpect): string {
  const codes = c.codes.join(' or ');
  return c.by === 'runner'
    ? `the runner closes; the peer answers with ${codes}${c.requireClean ? ' and the close handshake completes' : ''}`
    : `the peer fails the connection with ${codes} (or drops TCP)`;
}

export function judge(c: Case, sc: Script, s: Session, durationMs: number, localPort: number | undefined): CaseResult {
  const me = s.role;
  const peer = s.peerRole;
  const roleOf = (who: 'me' | 'peer' | null): Closer => (who === 'me' ? me : who === 'peer' ? peer : 'none');
  const closedByMe = s.firstClose === 'me';
  const closedBy: Closer = s.firstClose ? roleOf(s.firstClose) : s.cutByTimeout ? 'none' : roleOf(s.firstDrop);
  // Autobahn's wasClean: both close frames went across and the server ended TCP.
  const clean = !!s.myClose && !!s.peerClose && !s.cutByTimeout && (me === 'server' || s.firstDrop === 'peer');
  const droppedBy: Closer = s.cutByTimeout ? 'none' : roleOf(s.firstDrop);
  const remote = s.peerClose ? s.peerClose.code : undefined;
  const wantByMe = sc.close.by === 'runner';

  // ---- the close alone (Autobahn's behaviorClose) ----
  let closeVerdict: BehaviorClose['verdict'];
  let closeWhy: string;
  if (wantByMe !== closedByMe) {
    closeVerdict = 'FAILED';
    closeWhy = wantByMe ? `the ${peer} closed first, where the runner was to start the close` : `the ${peer} did not fail the connection: the runner had to close it`;
  } else if (sc.close.requireClean && !clean) {
    closeVerdict = 'UNCLEAN';
    closeWhy = !s.peerClose ? `the ${peer} never answered the runner's close frame` : 'the close handshake did not complete before TCP ended';
  } else if (remote !== undefined && remote !== null && !sc.close.codes.includes(remote)) {
    closeVerdict = 'WRONG CODE';
    closeWhy = `the ${peer} sent close ${remote}; the case wants ${sc.close.codes.join(' or ')}`;
  } else if (me === 'client' && s.firstDrop === 'me') {
    closeVerdict = 'FAILED BY CLIENT';
    closeWhy = 'the runner had to end TCP: the server should (§7.1.1)';
  } else {
    closeVerdict = 'OK';
    closeWhy = 'the connection was closed as expected';
  }

  // ---- what came back (Autobahn's behavior) ----
  let behavior: 'OK' | 'NON-STRICT' | 'FAILED' | 'INFORMATIONAL' | 'UNIMPLEMENTED';
  let observed: string;
  if (sc.judge) {
    const own = sc.judge(s);
    behavior = own.behavior;
    observed = own.observed;
  } else {
    behavior = sameList(s.received, sc.expect.ok) ? 'OK' : sc.expect.nonStrict && sameList(s.received, sc.expect.nonStrict) ? 'NON-STRICT' : 'FAILED';
    observed = `Received ${describeList(s.received)}`;
    if (behavior === 'FAILED') observed += `; expected ${describeList(sc.expect.ok)}`;
  }
  const closeSentence = `${s.peerClose ? `the ${peer} sent ${codeText(remote)}` : `the ${peer} sent no close frame`}; ${closedBy === 'none' ? 'the case timed out' : `${closedBy} closed first`}; ${droppedBy === 'none' ? 'the runner cut TCP' : `${droppedBy} ended TCP`}${clean ? ' (clean)' : ''}`;
  observed += `. ${closeSentence[0]!.toUpperCase()}${closeSentence.slice(1)}.`;
  if (s.peerViolations.length) observed += ` The ${peer} ${s.peerViolations.join('; ')}.`;
  if (s.waitsExpired.length) observed += ` Waited out: ${s.waitsExpired.join(', ')}.`;

  // ---- the verdict ----
  let verdict: Verdict;
  let failWhy: string | undefined;
  if (behavior === 'UNIMPLEMENTED') verdict = 'UNIMPLEMENTED';
  else if (sc.informational) {
    verdict = 'INFORMATIONAL';
    closeVerdict = 'INFORMATIONAL';
  } else if (s.cutByTimeout) {
    verdict = 'FAIL';
    failWhy = 'the case ran out of time';
  } else if (behavior === 'FAILED') verdict = 'FAIL';
  else if (closeVerdict === 'FAILED') {
    verdict = 'FAIL';
    failWhy = closeWhy;
  } else if (closeVerdict === 'UNCLEAN') {
    verdict = 'FAIL';
    failWhy = `${closeWhy} (§5.5.1: an endpoint that receives a Close frame MUST send one in response)`;
  } else if (closeVerdict === 'WRONG CODE' && sc.close.wrongCodeFatal) {
    verdict = 'FAIL';
    failWhy = closeWhy;
  } else if (s.peerViolations.length) {
    verdict = 'FAIL';
    failWhy = `the ${peer} ${s.peerViolations[0]}`;
  } else verdict = behavior === 'NON-STRICT' ? 'NON-STRICT' : behavior === 'INFORMATIONAL' ? 'INFORMATIONAL' : 'PASS';
  if (failWhy && behavior !== 'FAILED') observed = `${failWhy[0]!.toUpperCase()}${failWhy.slice(1)}. ${observed}`;

  const behaviorClose: BehaviorClose = {
    verdict: closeVerdict,
    closedBy,
    clean,
    droppedBy,
    expected: closeExpectText(sc.close),
    why: closeWhy,
  };
  const clientClose = me === 'client' ? s.myClose?.code : remote;
  const serverClose = me === 'server' ? s.myClose?.code : remote;
  if (clientClose !== undefined) behaviorClose.clientCode = clientClose;
  if (serverClose !== undefined) behaviorClose.serverCode = serverClose;

  const result: CaseResult = {
    id: c.id,
    group: c.group,
    description: c.description,
    expectation: c.expectation,
    verdict,
    observed,
    behaviorClose,
    durationMs: Math.round(durationMs),
  };
  if (verdict === 'NON-STRICT' && sc.nonStrictWhy) result.nonStrictWhy = sc.nonStrictWhy;
  if (localPort !== undefined) result.localPort = localPort;
  if (s.offending) result.offending = { dir: me, ...s.offending };
  return result;
}
