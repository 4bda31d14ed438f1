import type { ConsoleLine } from '../../../server/app/stream-protocol.ts';
import type { CloseEvent, Direction, EndEvent, FrameEvent, InsightEvent, ViolationEvent } from '../../../server/capture/events.ts';
import { explainCloseCode } from '../../../server/protocol/close-codes.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { base64ToBytes, preview } from '../lib/bytes.ts';
import { centerView, detailTab, frameKey, model, selection, serverConsole, version, type Conn } from '../state.ts';
import { closeCalls } from '../runner/run-client.ts';
import { reveal } from './Editor.tsx';
import { insightTitle } from './Insights.tsx';

/**
 * The close autopsy: for a WebSocket connection that ended, how it ended, read off the wire.
 * Who closed and how (a clean close handshake, a one-sided close, TCP FIN without a close
 * frame, a reset, a timeout), the close code each application reports (the browser's CloseEvent
 * and ws's 'close' event, including the 1006 no frame carries), the last frames before the end,
 * the rules broken (violations, insights) and, when the server went down with it, its crash line.
 */

/** Frames shown before the end. */
const LAST_FRAMES = 6;
/** How far back the view's frames are searched for the connection's last ones (bounded work per render). */
const SCAN_FRAMES = 20_000;
/** Crash lines are looked for in the server's output from a little before the end to a few seconds after. */
const CRASH_BEFORE_MS = 1000;
const CRASH_AFTER_MS = 5000;

const OTHER: Record<Direction, Direction> = { client: 'server', server: 'client' };
const ms = (t: number) => (t < 10 ? `${t.toFixed(1)} ms` : `${Math.round(t).toLocaleString('en-US')} ms`);

export type EndKind = 'clean' | 'one-sided' | 'fin' | 'reset' | 'timeout' | 'wiretap';

/** How a connection ended, in a word and a sentence. */
export function endKind(end: EndEvent, closes: CloseEvent[], insights: InsightEvent[]): EndKind {
  const sent = new Set(closes.map((c) => c.dir));
  if (sent.size === 2) return 'clean';
  if (/ECONNRESET|reset/i.test(end.error ?? '')) return 'reset';
  if (end.by === 'wiretap') return 'wiretap';
  if (/ETIMEDOUT/.test(end.error ?? '') || insights.some((i) => i.rule === 'idle-cut')) return 'timeout';
  if (sent.size === 1) return 'one-sided';
  return 'fin';
}

const KIND_TITLE: Record<EndKind, string> = {
  clean: 'Clean close handshake',
  'one-sided': 'One-sided close',
  fin: 'TCP FIN without a close frame',
  reset: 'Reset (TCP RST)',
  timeout: 'Timeout',
  wiretap: 'Ended by the wiretap',
};

function closeText(c: CloseEvent): string {
  return `CLOSE ${c.code}${c.reason ? ` “${c.reason}”` : ''}`;
}

function headline(kind: EndKind, end: EndEvent, closes: CloseEvent[]): string {
  const first = closes[0];
  const answer = first ? closes.find((c) => c.dir !== first.dir) : undefined;
  const tcp = end.by === 'wiretap' ? 'the wiretap ended TCP' : `the ${end.by} ended TCP`;
  switch (kind) {
    case 'clean':
      return `The ${first!.dir} started it with ${closeText(first!)}, the ${answer!.dir} answered with ${closeText(answer!)}; then ${tcp}.`;
    case 'one-sided':
      return `The ${first!.dir} sent ${closeText(first!)}, and the ${OTHER[first!.dir]} never answered with a close frame of its own; then ${tcp}${end.error ? ` (${end.error})` : ''}.`;
    case 'fin':
      return `No close frame in either direction: the ${end.by} ended TCP (FIN) without one. Its application did not call close(); it exited, crashed, or destroyed the socket.`;
    case 'reset':
      return `The connection was reset (${end.error ?? 'TCP RST'})${first ? ` after ${closeText(first)} from the ${first.dir}` : ', with no close frame'}: a process that dies or destroys its socket with bytes unread resets it.`;
    case 'timeout':
      return `It went silent and was cut without a close frame by the ${end.by}${end.error ? ` (${end.error})` : ''}: a timer ended it, not a close() call.`;
    case 'wiretap':
      return `The wiretap ended it${end.error ? `: ${end.error}` : ' (a fault, or the wiretap stopped)'}.`;
  }
}

/** What one application's close event shows (the browser's CloseEvent, ws's 'close'), and what it cannot. */
function CodeLine({ who, code, frame, clean }: { who: string; code: number | null; frame: CloseEvent | undefined; clean: boolean }) {
  if (code === null) return null;
  let note = '';
  if (code === 1006) note = 'No close frame reached it: 1006 is its own report of an abnormal closure, never a code on the wire.';
  else if (code === 1005) note = 'The close frame it got carried no code: 1005 is its own report of that.';
  else if (frame) note = `From the close frame the ${frame.dir} sent${frame.reason ? `, reason “${frame.reason}”` : ''}.`;
  return (
    <tr>
      <th scope="row">{who}</th>
      <td>
        {/* "1006 abnormal closure": the note under it says the rest. */}
        <code class={code === 1006 ? 'autopsy-code abnormal' : 'autopsy-code'}>{explainCloseCode(code).replace(/ \(.*$/, '')}</code>
        {who.startsWith('Client') && <span class="muted"> · wasClean {String(clean)}</span>}
        <div class="muted autopsy-note">{note}</div>
      </td>
    </tr>
  );
}

/** The connection's last frames in the view, newest last (at most LAST_FRAMES, searching a bounded tail). */
function lastFrames(conn: number): FrameEvent[] {
  const out: FrameEvent[] = [];
  const frames = model.frames;
  for (let i = frames.length - 1, seen = 0; i >= 0 && seen < SCAN_FRAMES && out.length < LAST_FRAMES; i--, seen++) {
    if (model.events.conn(frames.abs(i)) === conn) out.push(frames.at(i)!);
  }
  return out.reverse();
}

function framePreview(f: FrameEvent): string {
  const bytes = base64ToBytes(f.payload);
  if (f.opcode === 8) return bytes.length >= 2 ? `${(bytes[0]! << 8) | bytes[1]!}${bytes.length > 2 ? ` “${preview(bytes.subarray(2), true, 40)}”` : ''}` : '(no code)';
  if (bytes.length === 0) return '';
  return f.opcode === 1 || f.opcode === 0 ? `“${preview(bytes, true, 48)}”` : preview(bytes, false, 32);
}

/** The server's crash, from its output around the end: the error line and the first line of server.js in the stack. */
export function crashLines(lines: ConsoleLine[], end: EndEvent): string[] {
  const near = lines.filter((l) => l.source === 'server' && l.stream === 'stderr' && l.t >= end.t - CRASH_BEFORE_MS && l.t <= end.t + CRASH_AFTER_MS);
  const error = near.find((l) => /^\s*(?:\w*Error|Uncaught|node:internal)|\bthrow\b/.test(l.text) && !/^\s+at /.test(l.text));
  const errorName = near.find((l) => /^\w*Error(?: \[\w+\])?:/.test(l.text));
  const where = near.find((l) => /server\.js:\d+/.test(l.text));
  return [where, errorName ?? error].filter((l): l is ConsoleLine => l !== undefined).map((l) => l.text.trim());
}

/** Where client.js called close() on this connection, when the playground ran it (the Code tab's Run). */
function CloseCallLine({ conn }: { conn: number }) {
  const call = closeCalls.get(conn);
  if (!call) return null;
  const args = call.code === undefined ? '' : `${call.code}${call.reason !== undefined ? `, ${JSON.stringify(call.reason)}` : ''}`;
  return (
    <p class="autopsy-call">
      client.js{call.pos ? ` line ${call.pos.line}` : ''} called <code>close({args})</code>
      {call.pos && (
        <button class="link-btn" onClick={() => {
            reveal(call.pos!.line, call.pos!.column);
            centerView.value = 'editor';
          }} title="Show the line in the Code tab">
          show the line
        </button>
      )}
    </p>
  );
}

export function CloseAutopsy({ conn }: { conn: Conn }) {
  version.value;
  const end = conn.end;
  if (!end || conn.handshake?.outcome !== 'upgraded') return null;
  const insights = model.insights.filter((i) => i.conn === conn.id || i.conns?.includes(conn.id));
  const violations: ViolationEvent[] = model.violations.filter((v) => v.conn === conn.id).slice(-3);
  const kind = endKind(end, conn.closes, insights);
  const frames = lastFrames(conn.id);
  const serverClose = conn.closes.find((c) => c.dir === 'server');
  const clientClose = conn.closes.find((c) => c.dir === 'client');
  const serverWent = end.by === 'server' || /^server /.test(end.error ?? '');
  const crash = serverWent ? crashLines(serverConsole.value, end) : [];
  const open = (f: FrameEvent) => {
    selection.value = { kind: 'frame', key: frameKey(f.conn, f.dir, f.seq) };
    centerView.value = 'timeline';
    detailTab.value = 'frame';
  };
  return (
    <section class={`close-autopsy kind-${kind}`} aria-label={`How connection #${conn.id} ended`}>
      <h3>
        How #{conn.id} ended: <span class="autopsy-kind">{KIND_TITLE[kind]}</span>
      </h3>
      <p class="autopsy-headline">{headline(kind, end, conn.closes)}</p>
      <CloseCallLine conn={conn.id} />
      <table class="autopsy-codes">
        <tbody>
          <CodeLine who="Client application (onclose)" code={end.code} frame={serverClose} clean={end.clean} />
          <CodeLine who="Server application ('close')" code={end.serverCode} frame={clientClose} clean={end.clean} />
        </tbody>
      </table>
      {frames.length > 0 && (
        <>
          <h4>The last frames before the end</h4>
          <ol class="autopsy-frames">
            {frames.map((f) => (
              <li key={`${f.dir}${f.seq}`}>
                <button class="link-btn" onClick={() => open(f)} title="Open its anatomy">
                  <span class="muted">{ms(Math.max(0, end.t - f.tEnd))} before</span> {f.dir === 'client' ? '→' : '←'} {f.dir} {opcodeName(f.opcode)} #{f.seq}{' '}
                  <span class="autopsy-preview">{framePreview(f)}</span>
                </button>
              </li>
            ))}
          </ol>
        </>
      )}
      {(violations.length > 0 || insights.length > 0) && (
        <>
          <h4>What went wrong</h4>
          <ul class="autopsy-rules">
            {violations.map((v, n) => (
              <li key={`v${n}`}>
                <b>✗ {v.rule}</b> ({v.section}): {v.message}
              </li>
            ))}
            {insights.map((i, n) => (
              <li key={`i${n}`}>
                <b>⚠ {insightTitle(i)}</b>: {i.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {crash.length > 0 && (
        <>
          <h4>The server crashed</h4>
          <pre class="autopsy-crash">{crash.join('\n')}</pre>
        </>
      )}
    </section>
  );
}
