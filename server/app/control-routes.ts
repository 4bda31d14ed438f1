import express, { type Express, type Request, type Response } from 'express';
import type { Direction } from '../capture/events.ts';
import { buildFrame, concatBytes, CraftError, parseHex, PRESETS, presetBytes, toHex, type FrameDescription } from '../tap/crafter.ts';
import { describeFault, FaultError, type Fault, type FaultSpec, type FaultTable } from '../tap/faults.ts';
import type { ConnFaultStatus } from '../tap/wiretap.ts';

/** What the command channel acts on: the Wiretap implements it. */
export interface ControlTarget {
  readonly faults: FaultTable;
  connectionIds(): number[];
  faultStatus(): ConnFaultStatus[];
  inject(conn: number, dir: Direction, bytes: Uint8Array): 'sent' | 'waiting';
  reset(conn: number | null): number[];
  closeWith(conn: number | null, code: number, reason?: string): number[];
}

/** GET /api/faults: the faults that are on, the open connections, and what the faults did. */
export interface FaultsState {
  faults: Array<Fault & { text: string }>;
  connections: number[];
  status: ConnFaultStatus[];
}

export interface InjectResult {
  conn: number;
  dir: Direction;
  /** The bytes written, as hex. */
  hex: string;
  bytes: number;
  /** `waiting`: the sender is in the middle of a frame; the bytes follow it. */
  status: 'sent' | 'waiting';
}

/** A request the client must fix: 400 with a sentence. */
class BadRequest extends Error {}

function state(target: ControlTarget): FaultsState {
  return {
    faults: target.faults.list().map((f) => ({ ...f, text: describeFault(f) })),
    connections: target.connectionIds(),
    status: target.faultStatus(),
  };
}

/** `conn`: a connection id, or null / "all" / absent for every connection. */
function connOf(body: Record<string, unknown>, allowAll: boolean): number | null {
  const c = body.conn;
  if (c === undefined || c === null || c === 'all') {
    if (!allowAll) throw new BadRequest('Say which connection: "conn" is a connection id (the # in the dashboard).');
    return null;
  }
  const n = typeof c === 'string' ? Number(c.replace(/^#/, '')) : c;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new BadRequest(`"conn" is a connection id (1, 2, …) or "all", not ${JSON.stringify(c)}.`);
  return n;
}

function dirOf(v: unknown): Direction {
  if (v === 'client' || v === 'server') return v;
  throw new BadRequest(`"dir" is "client" (pretend to be the client: the bytes go to the server) or "server" (pretend to be the server: they go to the client), not ${JSON.stringify(v)}.`);
}

function fail(res: Response, err: unknown): void {
  if (err instanceof BadRequest || err instanceof FaultError || err instanceof CraftError) {
    res.status(400).json({ error: `400: ${err.message}` });
  } else if (err instanceof RangeError) {
    res.status(404).json({ error: `404: ${err.message}` });
  } else {
    res.status(500).json({ error: `500: ${(err as Error).message}` });
  }
}

/** Parse JSON bodies only: a form post from another page is not JSON, and is refused. */
function body(req: Request): Record<string, unknown> {
  if (!req.is('application/json')) throw new BadRequest('Send the command as JSON (Content-Type: application/json).');
  const b: unknown = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new BadRequest('The body is a JSON object.');
  return b as Record<string, unknown>;
}

/** The bytes POST /api/inject asks for: raw hex, frame descriptions, or a preset. */
function injectBytes(b: Record<string, unknown>): { bytes: Uint8Array; dir: Direction } {
  if (typeof b.preset === 'string') {
    const preset = PRESETS[b.preset as keyof typeof PRESETS];
    if (!preset || !Object.hasOwn(PRESETS, b.preset)) throw new BadRequest(`No preset "${b.preset}": presets are named by rule (${Object.keys(PRESETS).join(', ')}).`);
    return { bytes: presetBytes(preset), dir: b.dir === undefined ? preset.dir : dirOf(b.dir) };
  }
  const dir = dirOf(b.dir);
  if (typeof b.hex === 'string') {
    const bytes = parseHex(b.hex);
    if (bytes.length === 0) throw new BadRequest('"hex" is empty: nothing to send.');
    return { bytes, dir };
  }
  const frames = Array.isArray(b.frames) ? b.frames : b.frame !== undefined ? [b.frame] : null;
  if (!frames || frames.length === 0) throw new BadRequest('Send "hex" (the raw bytes), "frame" or "frames" (descriptions), or "preset" (a rule name).');
  return { bytes: concatBytes(frames.map((f) => buildFrame(f as FrameDescription).bytes)), dir };
}

/** Bounds of one injection: a crafted frame is for looking at, not for load. */
const MAX_INJECT_BYTES = 1 << 20;

/**
 * The command channel (DESIGN.md: controls go through one small channel): faults and the frame
 * crafter, under /api behind the dashboard's token, Host and Origin guard.
 * - GET /api/faults; POST /api/faults {kind, value?, dir?, conn?}; DELETE /api/faults/:id;
 *   DELETE /api/faults (clear all)
 * - POST /api/faults/reset {conn}; POST /api/faults/close {conn, code, reason?}
 * - POST /api/inject {conn, dir, hex | frame | frames} or {conn, preset}
 */
export function mountControlRoutes(app: Express, target: ControlTarget): void {
  const parse = express.json({ limit: '2mb', type: 'application/json' });
  // A body that is not JSON (or too large) gets a sentence, not express's HTML error page.
  const json = (req: Request, res: Response, next: () => void) =>
    parse(req, res, (err?: unknown) => {
      if (err) res.status(400).json({ error: `400: the body is not valid JSON (${(err as Error).message})` });
      else next();
    });

  app.get('/api/faults', (_req, res) => {
    res.json(state(target));
  });

  app.post('/api/faults', json, (req, res) => {
    try {
      const b = body(req);
      const conn = connOf(b, true);
      const spec: FaultSpec = { kind: b.kind as FaultSpec['kind'] };
      if (b.value !== undefined && b.value !== null) spec.value = typeof b.value === 'string' ? Number(b.value) : (b.value as number);
      if (b.dir !== undefined) spec.dir = b.dir as FaultSpec['dir'];
      const fault = target.faults.add(spec, conn);
      res.status(201).json({ fault: { ...fault, text: describeFault(fault) }, ...state(target) });
    } catch (err) {
      fail(res, err);
    }
  });

  app.delete('/api/faults', (_req, res) => {
    const removed = target.faults.clear();
    res.json({ removed, ...state(target) });
  });

  app.delete('/api/faults/:id', (req, res) => {
    const id = Number(req.params.id);
    if (!target.faults.remove(id)) {
      res.status(404).json({ error: `404: no fault #${req.params.id} (it may have been cleared already)` });
      return;
    }
    res.json(state(target));
  });

  app.post('/api/faults/reset', json, (req, res) => {
    try {
      res.json({ reset: target.reset(connOf(body(req), true)) });
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/faults/close', json, (req, res) => {
    try {
      const b = body(req);
      const conn = connOf(b, true);
      const code = typeof b.code === 'string' ? Number(b.code) : b.code;
      if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 0xffff) {
        throw new BadRequest(`"code" is the close code to send, 0-65535 (e.g. 1001 going away, 4000 for your own), not ${JSON.stringify(b.code)}.`);
      }
      const reason = typeof b.reason === 'string' ? b.reason : '';
      // A close frame is a control frame: 125 bytes of payload at most, 2 of them the code (§5.5).
      if (new TextEncoder().encode(reason).length > 123) throw new BadRequest('The reason is at most 123 bytes of UTF-8 (a close frame carries 125 bytes, 2 for the code).');
      res.json({ closed: target.closeWith(conn, code, reason) });
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/inject', json, (req, res) => {
    try {
      const b = body(req);
      const conn = connOf(b, false)!;
      const { bytes, dir } = injectBytes(b);
      if (bytes.length > MAX_INJECT_BYTES) throw new BadRequest(`At most ${MAX_INJECT_BYTES} bytes per injection (asked: ${bytes.length}).`);
      const status = target.inject(conn, dir, bytes);
      const result: InjectResult = { conn, dir, hex: toHex(bytes.subarray(0, 4096)), bytes: bytes.length, status };
      res.json(result);
    } catch (err) {
      fail(res, err);
    }
  });
}
