import { check, must, upgradedAt, useLesson, type ClientRun, type Connection } from '../harness.ts';

const SAID = 'I am listening';
const ECHO = `I heard you say "${SAID}"`;
/**
 * The first run holds the server's 101 back for a few seconds, a different time on every check
 * (a timer tuned to one delay meets CONNECTING on a longer one); the second run holds nothing.
 * At least 2.5 s: a `setTimeout(..., 1500)` always fires while the socket is CONNECTING.
 */
const SLOW_MS = 2500 + Math.floor(Math.random() * 2000);
/**
 * How soon after the 101 reaches the client its first frame must follow. A client that sends
 * from its open event sends within milliseconds; this leaves a loaded machine plenty of room,
 * and stays below SLOW_MS (by 300 ms at the least): a timer long enough to outlast the slow run's handshake fires
 * at least 2.5 s after the fast run's 101, and is caught there.
 */
const PROMPT_MS = 2200;

// The server's 101 is held back, as on a slow network: code that sends "a little later"
// meets CONNECTING here, as it would on a phone. The first check reports the InvalidStateError
// itself; the others say what it cost (no frame), without repeating it.
const lesson = useLesson(import.meta.url, { handshakeDelayMs: SLOW_MS, expectedErrors: ['InvalidStateError'] });

interface Run {
  name: string;
  client: ClientRun;
  /** How long the wiretap held the 101. */
  heldMs: number;
  ws: Connection | undefined;
  /** When the 101 went on to the client (wiretap clock), after the hold. */
  opened: number | null;
}

let waited: Promise<Run[]> | null = null;

/** One run's connection, once its first frame followed the 101 (or the time for it passed), and the echo. */
async function watch(client: ClientRun, name: string, heldMs: number): Promise<Run> {
  // The wiretap reads the bytes it relays as it writes them: a held 101 shows when it is let go.
  const hs = await lesson.waitForType('handshake', (h) => h.outcome === 'upgraded' && lesson.connectionsOf(client).includes(h.conn), heldMs + 3000);
  const opened = hs ? upgradedAt(hs) : null;
  if (hs) {
    // A prompt frame, and the server's echo of it.
    await lesson.waitFor((e) => e.type === 'message' && e.conn === hs.conn && e.dir === 'server' && e.text === ECHO, PROMPT_MS + 1000);
    await lesson.settle(200, 1000);
  }
  return { name, client, heldMs, ws: hs ? lesson.wire.connection(hs.conn) : undefined, opened };
}

/** Both runs, once for all the checks: the 101 held for SLOW_MS, then not held at all. */
function runs(): Promise<Run[]> {
  waited ??= (async () => {
    const slow = await watch(lesson.client, 'With the 101 held', SLOW_MS);
    await lesson.client.stop();
    lesson.tap!.faults.clear();
    const second = await lesson.runClient({ name: 'client.js (second run)' });
    const fast = await watch(second, 'With the 101 not held', 0);
    return [slow, fast];
  })();
  return waited;
}

function held(run: Run): string {
  return run.heldMs > 0 ? `the 101 came ${(run.heldMs / 1000).toFixed(1)} s after the request` : 'the 101 came at once';
}

check('the client sends only once the socket is OPEN, never while CONNECTING (no InvalidStateError)', { hint: 1 }, async () => {
  for (const run of await runs()) {
    const err = run.client.errors.find((e) => e.name === 'InvalidStateError');
    must(!err, () => `${run.client.describeError(err!)}\nsend ran while the socket was still CONNECTING (${held(run)}).`);
  }
});

check('the client sends when the socket opens: its first frame follows the 101 at once, however long the handshake took', { hint: 2 }, async () => {
  for (const run of await runs()) {
    must(run.ws && run.opened !== null, () => `No WebSocket connection was made (${run.name.toLowerCase()}): client.js must create new WebSocket('ws://localhost:9900').\nThe wiretap saw:\n${lesson.wire.transcript()}`);
    const first = lesson.wire.frames('client', run.ws.conn)[0];
    const early = run.client.sends.find((s) => s.readyState === 0);
    must(
      first,
      () =>
        early
          ? `${run.name} (${held(run)}), the client sent no frame: its send at line ${early.line} ran while the socket was CONNECTING, and nothing sent it again once the socket was OPEN${run.client.errors.length === 0 ? ' (the error was caught, so the message was lost without a word)' : ''}.`
          : `${run.name} (${held(run)}), the client sent no frame: it never called send once the socket was OPEN. A readyState check at the top runs once, while the socket is CONNECTING.`,
    );
    const gap = first.t - run.opened;
    must(
      gap <= PROMPT_MS,
      `${run.name} (${held(run)}), the client's first frame came ${(gap / 1000).toFixed(1)} s after the 101 reached it: it waits for a clock, not for the socket. A wait long enough for a slow network makes every fast one wait too.`,
    );
  }
});

check(`the server heard "${SAID}" and answered it`, { hint: 3 }, async () => {
  for (const run of await runs()) {
    must(run.ws, 'No WebSocket connection was made (see the checks above).');
    const said = lesson.wire.messages('client', run.ws.conn).map((m) => m.text);
    must(
      said.includes(SAID),
      said.length === 0 ? `${run.name}, the client sent no message (see the checks above).` : `${run.name}, the client sent ${said.map((t) => `'${t}'`).join(', ')}, not '${SAID}'.`,
    );
    const echo = lesson.wire.messages('server', run.ws.conn).find((m) => m.text === ECHO);
    must(echo, () => `${run.name}, the server did not answer. The wiretap saw:\n${lesson.wire.transcript({ conn: run.ws!.conn })}`);
  }
});

check("the client printed the server's greeting too", { hint: 3 }, async () => {
  for (const run of await runs()) {
    const line = run.client.console.find((c) => c.text.includes('Hello webSocket'));
    must(line, () => `${run.name}, client.js did not print 'Hello webSocket'. Keep console.log in socket.onmessage.\nIt printed:\n${run.client.printed() || '(nothing)'}`);
  }
});
