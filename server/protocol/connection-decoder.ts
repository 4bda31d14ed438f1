import type { Direction, EndEvent, HttpRequestHead, HttpResponseHead, WireEvent } from '../capture/events.ts';
import { explainCloseCode } from './close-codes.ts';
import { ChunkedReader } from './chunked.ts';
import { FrameDecoder } from './frame-decoder.ts';
import { analyzeHandshake, headerValues, HttpHeadReader, isUpgradeRequest, parseRequestHead, parseResponseHead } from './handshake.ts';
import { DEFAULT_LIMITS, MessageAssembler, type DecoderLimits, type PendingInflation } from './message-assembler.ts';
import { RULES } from './violations.ts';
import { materializeAll } from '../capture/materialize.ts';

/**
 * Where one direction's bytes go next:
 * - `http`: an HTTP head (the client's request, the server's response);
 * - `body`: an HTTP body to skip (a 426's text, a POST);
 * - `hold`: client bytes after an upgrade request, kept until the server answers (they can be
 *   frames only if the answer is 101, and the answer also says which extensions apply);
 * - `frames`: the WebSocket frames after the 101;
 * - `opaque`: bytes that cannot be decoded any more; counted, not read.
 */
type Stage = 'http' | 'body' | 'hold' | 'frames' | 'opaque';

interface Side {
  stage: Stage;
  /** Bytes of this direction consumed so far: the stream offset of the next byte. */
  pos: number;
  head: HttpHeadReader;
  bodyLeft: number;
  decoder: FrameDecoder | null;
  assembler: MessageAssembler | null;
}

/** A non-101 response whose body is still arriving; its handshake event waits for the body. */
interface OpenResponse {
  request: HttpRequestHead | null;
  response: HttpResponseHead;
  body: Buffer[];
  bodyBytes: number;
  /** The server answered a request whose head had not ended (no blank line yet). */
  unfinished: boolean;
  /** More body than BODY_PREVIEW arrived. */
  cut: boolean;
}

/** A request body arriving (a POST: a long-polling client's packets), kept up to BODY_PREVIEW. */
interface OpenRequestBody {
  request: HttpRequestHead;
  body: Buffer[];
  bodyBytes: number;
  cut: boolean;
}

/**
 * Body bytes kept per request and per response, as text on the handshake event: enough for a
 * long-polling client's Engine.IO packets (the app stage decodes them), bounded per exchange.
 */
const BODY_PREVIEW = 16 * 1024;
const NONE: readonly PendingInflation[] = Object.freeze([]);

/**
 * HTTP request/response exchanges per connection reported in full (a `handshake` event each):
 * a kept-alive polling client sends thousands. Past the bound they are counted, and the `end`
 * event says how many there were (`httpExchanges`, `httpExchangesOmitted`).
 */
export const MAX_HTTP_EXCHANGES = 1000;

/**
 * Sans-I/O decoder for one TCP connection seen by the wiretap: feed it each chunk with its
 * direction and arrival time, get back typed events. It follows the connection from the HTTP
 * upgrade (or plain HTTP) into frames and messages, and never throws on any input.
 */
export class ConnectionDecoder {
  /** Shared with the message assemblers; drained by each call. */
  private readonly out: WireEvent[] = [];
  private readonly client: Side;
  private readonly server: Side;
  private requests: HttpRequestHead[] = [];
  /** Client bytes held until the upgrade is answered, with their time and whether the wiretap inserted them. */
  private held: Array<[Buffer, number, boolean]> = [];
  /** Inside receiveInjected: the bytes are the wiretap's own. */
  private injecting = false;
  private heldBytes = 0;
  private openResponse: OpenResponse | null = null;
  private openRequestBody: OpenRequestBody | null = null;
  /** The body of the open response is chunked (Transfer-Encoding: chunked). */
  private chunked: ChunkedReader | null = null;
  private upgraded = false;
  private sawHandshake = false;
  private readonly bytes = { client: 0, server: 0 };
  private ended = false;
  /** Request/response exchanges answered so far (101 included), reported or not. */
  private exchanges = 0;
  private omitted = 0;
  /** Deferred inflation: the compressed messages of events handed out, not yet taken. */
  private readonly deferred: PendingInflation[] | null;

  constructor(
    readonly conn: number,
    private readonly limits: DecoderLimits = DEFAULT_LIMITS,
    /**
     * Hand out lazy events (server/capture/events.ts): strings made when first read, by the
     * CaptureStore or `materialize`. The wiretap's way; by default every event comes out made.
     */
    private readonly lazy = false,
    /** Exchanges per connection reported in full (MAX_HTTP_EXCHANGES); the rest are counted. */
    private readonly maxExchanges = MAX_HTTP_EXCHANGES,
    /**
     * Leave compressed messages to the caller to inflate (`takeInflations`), so a message that
     * inflates to megabytes costs the caller's time, not the decoder's: the wiretap's way
     * (server/tap/inflation.ts). By default each is inflated at once, in `receive`.
     */
    deferInflation = false,
  ) {
    this.deferred = deferInflation ? [] : null;
    this.client = this.side();
    this.server = this.side();
  }

  private side(): Side {
    return { stage: 'http', pos: 0, head: new HttpHeadReader(this.limits.maxHandshakeBytes), bodyLeft: 0, decoder: null, assembler: null };
  }

  /** Feed bytes that `dir` sent, arriving at time `t`; returns the events they complete. */
  receive(dir: Direction, chunk: Buffer, t: number): WireEvent[] {
    if (this.ended || chunk.length === 0) return [];
    this.bytes[dir] += chunk.length;
    try {
      this.feed(dir, chunk, t);
    } catch (err) {
      // The decoders are written not to throw; if one ever does, stop decoding this connection
      // (the relay carries on) and say so, rather than take the wiretap down.
      this.client.stage = 'opaque';
      this.server.stage = 'opaque';
      this.out.push({
        type: 'violation', conn: this.conn, t, dir, rule: 'decoder-failure', section: RULES['decoder-failure'].section,
        closeCode: RULES['decoder-failure'].closeCode,
        message: `${RULES['decoder-failure'].text} (${(err as Error).message})`,
      });
    }
    return this.drain();
  }

  /**
   * Feed bytes the wiretap itself inserted into `dir`'s stream (a crafted frame, the close frame
   * of a close from the middle) rather than relayed from the peer. They are decoded like any
   * other bytes, and the frames that begin in them, with their violations, control events and
   * messages, say `injected: true`. The wiretap inserts whole frames between the peer's frames
   * (server/tap/faults.ts, Lane), so those are exactly the inserted frames. The relay's plain
   * path never calls this.
   */
  receiveInjected(dir: Direction, chunk: Buffer, t: number): WireEvent[] {
    const assembler = (dir === 'client' ? this.client : this.server).assembler;
    this.injecting = true;
    if (assembler) assembler.injecting = true;
    try {
      return this.receive(dir, chunk, t);
    } finally {
      this.injecting = false;
      if (assembler) assembler.injecting = false;
    }
  }

  private drain(): WireEvent[] {
    const events = this.out.splice(0);
    return this.lazy ? events : materializeAll(events);
  }

  private feed(dir: Direction, chunk: Buffer, t: number): void {
    const side = dir === 'client' ? this.client : this.server;
    let data = chunk;
    while (data.length > 0) {
      switch (side.stage) {
        case 'frames':
          side.decoder!.receive(data, t);
          side.pos += data.length;
          return;
        case 'opaque':
          side.pos += data.length;
          return;
        case 'hold':
          this.hold(data, t);
          return;
        case 'body': {
          if (dir === 'server' && this.chunked) {
            const used = this.chunked.push(data, (piece) => this.openResponse && this.keepBody(piece));
            side.pos += used;
            data = data.subarray(used);
            if (this.chunked.done) {
              this.chunked = null;
              side.bodyLeft = 0;
              this.bodyDone(dir, t);
            }
            break;
          }
          const take = Math.min(side.bodyLeft, data.length);
          if (dir === 'server' && this.openResponse) this.keepBody(data.subarray(0, take));
          else if (dir === 'client' && this.openRequestBody) keepPiece(this.openRequestBody, data.subarray(0, take));
          side.bodyLeft -= take;
          side.pos += take;
          data = data.subarray(take);
          if (side.bodyLeft === 0) this.bodyDone(dir, t);
          break;
        }
        case 'http': {
          const before = side.head.buffered;
          if (before === 0 && !canStartHead(dir, data[0]!)) {
            // Judged on the first byte, as an HTTP parser does: a TLS hello (wss:// to a ws://
            // port) never sends the blank line a head ends with, and would look unfinished.
            this.notHttp(dir, data.subarray(0, 1), t);
            break;
          }
          const r = side.head.push(data);
          if (r === null) return;
          if (r === 'too-large') {
            side.pos += before + data.length;
            side.stage = 'opaque';
            this.out.push({
              type: 'violation', conn: this.conn, t, dir, rule: 'handshake-too-large', section: RULES['handshake-too-large'].section,
              closeCode: RULES['handshake-too-large'].closeCode,
              message: `${RULES['handshake-too-large'].text} (bound: ${this.limits.maxHandshakeBytes} bytes)`,
              offset: side.pos - before - data.length,
            });
            return;
          }
          // The head's earlier bytes were buffered without being counted: count the whole head.
          side.pos += r.head.length;
          data = r.rest;
          if (dir === 'client') this.request(r.head, t);
          else this.response(r.head, t);
          break;
        }
      }
    }
  }

  private request(head: Buffer, t: number): void {
    const req = parseRequestHead(head, t);
    if (!req) {
      this.notHttp('client', head, t);
      return;
    }
    this.requests.push(req);
    const length = contentLength(req.headers);
    if (length > 0) {
      this.client.stage = 'body';
      this.client.bodyLeft = length;
      this.openRequestBody = { request: req, body: [], bodyBytes: 0, cut: false };
    }
    if (isUpgradeRequest(req) && length <= 0) this.client.stage = 'hold';
  }

  private response(head: Buffer, t: number): void {
    const res = parseResponseHead(head, t);
    if (!res) {
      this.notHttp('server', head, t);
      return;
    }
    let request = this.requests.shift() ?? null;
    let unfinished = false;
    if (!request && this.client.stage === 'http' && this.client.head.buffered > 0) {
      // The server did not wait for the end of the head (e.g. Node's 400 for a request cut
      // short): show its answer against the part of the request that did arrive.
      const partial = this.client.head.take();
      request = parseRequestHead(partial, t);
      if (request) {
        unfinished = true;
        this.client.pos += partial.length;
      }
    }
    if (res.status === 101) {
      this.upgrade(request, res, t);
      return;
    }
    this.openResponse = { request, response: res, body: [], bodyBytes: 0, unfinished, cut: false };
    const length = contentLength(res.headers);
    const noBody = res.status < 200 || res.status === 204 || res.status === 304 || request?.method === 'HEAD';
    this.server.bodyLeft = noBody ? 0 : length >= 0 ? length : Infinity;
    const chunked = headerValues(res.headers, 'transfer-encoding').some((v) => /(^|,)\s*chunked\s*$/i.test(v));
    this.chunked = !noBody && chunked ? new ChunkedReader() : null;
    if (this.server.bodyLeft === 0) this.bodyDone('server', t);
    else this.server.stage = 'body';
  }

  private upgrade(request: HttpRequestHead | null, response: HttpResponseHead, t: number): void {
    this.upgraded = true;
    const hs = analyzeHandshake(this.conn, request?.t ?? t, 'upgraded', request, response);
    hs.exchange = ++this.exchanges;
    this.sawHandshake = true;
    this.out.push(hs);
    const d = hs.deflate;
    for (const dir of ['client', 'server'] as const) {
      const side = dir === 'client' ? this.client : this.server;
      const assembler = new MessageAssembler(this.conn, dir, this.out, this.limits, dir === 'client' ? response.t : -Infinity, this.deferred);
      const decoder = new FrameDecoder(dir, assembler, side.pos);
      if (d) {
        decoder.deflate = true;
        if (dir === 'client') assembler.enableDeflate(d.clientMaxWindowBits, d.clientNoContextTakeover);
        else assembler.enableDeflate(d.serverMaxWindowBits, d.serverNoContextTakeover);
      }
      side.assembler = assembler;
      side.decoder = decoder;
      side.stage = 'frames';
    }
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    // Held client bytes were sent before the 101 arrived; decode them with their own times.
    const assembler = this.client.assembler!;
    const injecting = assembler.injecting;
    for (const [chunk, ht, injected] of held) {
      assembler.injecting = injected;
      this.feedFrames('client', chunk, ht);
    }
    assembler.injecting = injecting;
  }

  /** Feed bytes straight to a side's frame decoder. */
  private feedFrames(dir: Direction, chunk: Buffer, t: number): void {
    const side = dir === 'client' ? this.client : this.server;
    side.decoder!.receive(chunk, t);
    side.pos += chunk.length;
  }

  private hold(data: Buffer, t: number): void {
    if (this.heldBytes + data.length > this.limits.maxPendingBytes) {
      // The server is not answering and the client keeps sending: stop holding, stop decoding.
      this.client.pos += this.heldBytes + data.length;
      this.held = [];
      this.heldBytes = 0;
      this.client.stage = 'opaque';
      return;
    }
    this.held.push([Buffer.from(data), t, this.injecting]);
    this.heldBytes += data.length;
  }

  private keepBody(piece: Buffer): void {
    keepPiece(this.openResponse!, piece);
  }

  private bodyDone(dir: Direction, t: number): void {
    if (dir === 'client') {
      const b = this.openRequestBody;
      this.openRequestBody = null;
      if (b && b.bodyBytes > 0) {
        b.request.body = Buffer.concat(b.body).toString('utf8');
        if (b.cut) b.request.bodyTruncated = true;
      }
      const last = this.requests[this.requests.length - 1];
      this.client.stage = last && isUpgradeRequest(last) ? 'hold' : 'http';
      return;
    }
    this.server.stage = 'http';
    this.emitResponse(t);
  }

  /** A non-101 answer: a refused upgrade (400, 403 ...) or plain HTTP (a GET answered 426). */
  private emitResponse(t: number): void {
    const r = this.openResponse;
    if (!r) return;
    this.openResponse = null;
    if (r.bodyBytes > 0) r.response.body = Buffer.concat(r.body).toString('utf8');
    if (r.cut) r.response.bodyTruncated = true;
    const wasUpgrade = r.request !== null && isUpgradeRequest(r.request);
    this.sawHandshake = true;
    const exchange = ++this.exchanges;
    if (exchange > this.maxExchanges) {
      // Bounded: a long-polling page is counted from here on, not reported exchange by exchange.
      this.omitted++;
    } else {
      const hs = analyzeHandshake(this.conn, r.request?.t ?? t, wasUpgrade ? 'refused' : 'plain-http', r.request, r.response);
      hs.exchange = exchange;
      if (r.unfinished) hs.problems.unshift('The server answered before the request head was complete (it never ended with a blank line).');
      this.out.push(hs);
    }
    if (wasUpgrade && this.client.stage === 'hold') {
      // Refused: what the client sent meanwhile is more HTTP, not frames.
      this.client.stage = 'http';
      const held = this.held;
      this.held = [];
      this.heldBytes = 0;
      for (const [chunk, ht] of held) this.feed('client', chunk, ht);
    }
  }

  private notHttp(dir: Direction, head: Buffer, t: number): void {
    this.client.stage = 'opaque';
    this.server.stage = 'opaque';
    this.sawHandshake = true;
    const hs = analyzeHandshake(this.conn, t, 'not-http', null, null);
    const first = head.subarray(0, 60).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    const what = head.length === 1 ? `its first byte is 0x${head[0]!.toString(16).padStart(2, '0')}${tlsHint(dir, head[0]!)}` : `"${first}"`;
    hs.problems.push(
      dir === 'client'
        ? `The client's first bytes are not an HTTP request (${what}), so this is not a WebSocket connection.`
        : `The server answered with something that is not HTTP (${what}).`,
    );
    this.out.push(hs);
  }

  /**
   * Deferred inflation: the compressed messages among the events handed out since the last
   * call, in order, each to be completed (PendingInflation) before its `message` event is read.
   * Within a direction they must be completed in this order (they share the compressor's history).
   */
  takeInflations(): readonly PendingInflation[] {
    return this.deferred === null || this.deferred.length === 0 ? NONE : this.deferred.splice(0);
  }

  /**
   * Where `dir`'s frames stand (FrameDecoder.pending), or null before frames start (the
   * handshake, client bytes held until the server answers it) or when they never will.
   */
  framing(dir: Direction): { header: Buffer; remaining: number } | null {
    const side = dir === 'client' ? this.client : this.server;
    return !this.ended && side.stage === 'frames' && side.decoder ? side.decoder.pending : null;
  }

  /**
   * TCP is gone. Reports what was left unfinished (a handshake, a frame) and the `end` event.
   * `by` is who ended first; `error` the socket error, if any.
   */
  end(t: number, by: EndEvent['by'], error?: string): WireEvent[] {
    if (this.ended) return [];
    this.ended = true;
    if (this.openResponse) {
      this.emitResponse(t);
    }
    if (!this.upgraded) {
      const pending = this.requests.shift() ?? null;
      const partial = this.client.head.take();
      if (pending || partial.length > 0 || !this.sawHandshake) {
        const hs = analyzeHandshake(this.conn, pending?.t ?? t, 'incomplete', pending, null);
        if (pending) hs.problems.push('The connection ended before the server answered the request.');
        else if (partial.length > 0) hs.problems.push(`The connection ended in the middle of the request (${partial.length} bytes of an unfinished HTTP head).`);
        else if (this.bytes.client > 0) hs.problems.push(`The client sent ${this.bytes.client} bytes but no request head that could be read (see the violation).`);
        else hs.problems.push('The connection ended before the client sent anything.');
        this.out.push(hs);
      }
    }
    this.client.decoder?.end(t);
    this.server.decoder?.end(t);
    const serverClose = this.server.assembler?.closeCode ?? null;
    const clientClose = this.client.assembler?.closeCode ?? null;
    const code = this.upgraded ? serverClose ?? 1006 : null;
    const serverCode = this.upgraded ? clientClose ?? 1006 : null;
    const end: EndEvent = {
      type: 'end',
      conn: this.conn,
      t,
      by,
      clean: serverClose !== null && clientClose !== null,
      code,
      serverCode,
      explanation: code === null ? 'no WebSocket was established' : explainCloseCode(code),
      bytes: { ...this.bytes },
      frames: { client: this.client.assembler?.frames ?? 0, server: this.server.assembler?.frames ?? 0 },
    };
    if (error) end.error = error;
    if (this.exchanges > 1 || this.omitted > 0) end.httpExchanges = this.exchanges;
    if (this.omitted > 0) end.httpExchangesOmitted = this.omitted;
    this.out.push(end);
    return this.drain();
  }
}

/** Keep what fits of a body's piece under BODY_PREVIEW; note when some did not. */
function keepPiece(r: { body: Buffer[]; bodyBytes: number; cut: boolean }, piece: Buffer): void {
  if (r.bodyBytes >= BODY_PREVIEW) {
    if (piece.length > 0) r.cut = true;
    return;
  }
  const take = piece.subarray(0, BODY_PREVIEW - r.bodyBytes);
  if (take.length < piece.length) r.cut = true;
  r.body.push(Buffer.from(take));
  r.bodyBytes += take.length;
}

/** Can this byte start a request line (a method token, RFC 9110 §5.6.2) or a status line ("HTTP/")? */
function canStartHead(dir: Direction, b: number): boolean {
  if (dir === 'server') return b === 0x48;
  return /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(String.fromCharCode(b));
}

/** TLS records start with 0x16 (handshake) or 0x15 (alert): the usual ws:// / wss:// mix-up. */
function tlsHint(dir: Direction, b: number): string {
  if (b === 0x16 && dir === 'client') return ', a TLS handshake: the client uses wss:// (or https://) but the server speaks plain ws://';
  if ((b === 0x15 || b === 0x16) && dir === 'server') return ', a TLS record: the server expects wss://, not ws://';
  return '';
}

/** Content-Length as a number, or -1 when absent or not a valid length. */
function contentLength(headers: [string, string][]): number {
  const v = headerValues(headers, 'content-length')[0];
  if (v === undefined) return -1;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}
