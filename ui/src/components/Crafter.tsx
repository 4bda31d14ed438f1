import { useMemo, useState } from 'preact/hooks';
import type { Direction, FrameEvent, WireEvent } from '../../../server/capture/events.ts';
import type { InjectResult } from '../../../server/app/control-routes.ts';
import { explainCloseCode } from '../../../server/protocol/close-codes.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { RULES } from '../../../server/protocol/violations.ts';
import {
  buildFrame,
  concatBytes,
  CraftError,
  PRESET_LIST,
  presetCloseCode,
  toHex,
  type CraftedFrame,
  type FrameDescription,
  type LengthChoice,
  type PayloadSpec,
  type Preset,
} from '../../../server/tap/crafter.ts';
import { centerView, detailTab, filters, frameKey, model, selectedConn, selection, version } from '../state.ts';
import { control, openConnections } from './FaultsPanel.tsx';
import '../control.css';

/**
 * The frame crafter: build any frame bit by bit (or load a preset that breaks one rule), see
 * its bytes, and inject it into a live connection as the client (toward the server) or as the
 * server (toward the client). The bytes go through the wiretap's decoders like any others, so
 * the frame, its violations and the peer's answer show in the timeline; the latest answer is
 * summed up here too.
 */

interface Form {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  mask: boolean;
  maskKey: string;
  payloadKind: PayloadSpec['kind'];
  text: string;
  hex: string;
  closeCode: string;
  closeReason: string;
  lie: boolean;
  announced: string;
  encoding: LengthChoice;
}

const CUSTOM = '';

function formOf(d: FrameDescription): Form {
  const p = d.payload;
  return {
    fin: d.fin,
    rsv1: d.rsv1,
    rsv2: d.rsv2,
    rsv3: d.rsv3,
    opcode: d.opcode,
    mask: d.mask,
    maskKey: d.maskKey ?? '',
    payloadKind: p.kind,
    text: p.kind === 'text' ? p.text : '',
    hex: p.kind === 'hex' ? p.hex : '',
    closeCode: p.kind === 'close' && p.code !== null ? String(p.code) : '',
    closeReason: p.kind === 'close' ? p.reason : '',
    lie: d.announcedLength !== undefined && d.announcedLength !== null,
    announced: d.announcedLength !== undefined && d.announcedLength !== null ? String(d.announcedLength) : '',
    encoding: d.lengthEncoding ?? 'auto',
  };
}

function describe(f: Form): FrameDescription {
  const payload: PayloadSpec =
    f.payloadKind === 'text'
      ? { kind: 'text', text: f.text }
      : f.payloadKind === 'hex'
        ? { kind: 'hex', hex: f.hex }
        : { kind: 'close', code: f.closeCode.trim() === '' ? null : Number(f.closeCode), reason: f.closeReason };
  return {
    fin: f.fin,
    rsv1: f.rsv1,
    rsv2: f.rsv2,
    rsv3: f.rsv3,
    opcode: f.opcode,
    mask: f.mask,
    maskKey: f.maskKey,
    payload,
    announcedLength: f.lie ? f.announced : null,
    lengthEncoding: f.encoding,
  };
}

const NEW_FRAME: Form = formOf({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, mask: true, maskKey: '', payload: { kind: 'text', text: 'Hello' } });

function randomKeyHex(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(4)), '');
}

const FIELD_NAMES = { b0: 'FIN, RSV1-3, opcode', b1: 'MASK, payload length', extlen: 'extended payload length', mask: 'masking key', payload: 'payload (as sent: masked)' };

/** The frame's bytes, coloured by field as in the Frame anatomy view. */
function BytesPreview({ frame }: { frame: CraftedFrame }) {
  const b = frame.bytes;
  const ext = frame.lengthEncoding === 7 ? 0 : frame.lengthEncoding === 16 ? 2 : 8;
  const field = (i: number) => (i === 0 ? 'b0' : i === 1 ? 'b1' : i < 2 + ext ? 'extlen' : i < frame.headerLength ? 'mask' : 'payload');
  const shown = Math.min(b.length, 96);
  const cells = [];
  for (let i = 0; i < shown; i++) {
    cells.push(
      <span class={`craft-byte f-${field(i)}`} title={FIELD_NAMES[field(i)]}>
        {b[i]!.toString(16).padStart(2, '0')}
      </span>,
    );
  }
  return (
    <div class="craft-bytes mono" aria-label="The frame's bytes">
      {cells}
      {b.length > shown && <span class="muted"> … {b.length - shown} more</span>}
    </div>
  );
}

function Bit({ label, checked, onChange, title, plain }: { label: string; checked: boolean; onChange: (v: boolean) => void; title: string; plain?: boolean }) {
  return (
    <label class={plain ? 'check' : 'check bit'} title={title}>
      <input type="checkbox" checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      {label}
    </label>
  );
}

/**
 * The peer's answer to what was sent after `afterT`: violations, pings and pongs (a server
 * answers a PING with a PONG), the first messages from the other side, close frames, the end.
 * The learner's own client goes on sending meanwhile: its messages are not the answer.
 */
function reactionOf(conn: number, afterT: number, sentAs: Direction): WireEvent[] {
  const found: WireEvent[] = [];
  const ev = model.events;
  let start = ev.length;
  while (start > 0 && ev.t(ev.base + start - 1) > afterT) start--;
  let messages = 0;
  for (let i = start; i < ev.length && found.length < 8; i++) {
    if (ev.conn(ev.base + i) !== conn) continue;
    const e = ev.at(i)!;
    if (e.type === 'violation' || e.type === 'close' || e.type === 'end' || e.type === 'ping' || e.type === 'pong') found.push(e);
    else if (e.type === 'message' && e.dir !== sentAs && messages < 3) {
      messages++;
      found.push(e);
    }
  }
  return found;
}

const side = (dir: Direction) => (dir === 'client' ? 'Client' : 'Server');

function preview(base64: string): string {
  if (!base64) return '';
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return ` "${text.length > 60 ? `${text.slice(0, 60)}…` : text}"`;
}

function reactionLine(e: WireEvent, yours: FrameEvent | null): string {
  switch (e.type) {
    case 'violation':
      return `✗ ${e.injected ? 'your frame, ' : ''}${e.dir === 'client' ? 'client → server' : 'server → client'}: ${e.rule}: ${e.message} (${e.section}; a conforming endpoint closes with ${e.closeCode})`;
    case 'ping':
    case 'pong': {
      const mine = e.injected === true || (yours !== null && e.dir === yours.dir && e.frame === yours.seq);
      return `${mine ? 'Your' : side(e.dir)} ${e.type.toUpperCase()}${preview(e.payload)}${mine ? ' (injected by you)' : e.dir === 'client' ? ' (client → server)' : ' (server → client)'}`;
    }
    case 'message': {
      const body = e.opcode === 1 ? (e.text === undefined ? '' : ` "${e.text.length > 60 ? `${e.text.slice(0, 60)}…` : e.text}"`) : ` (${e.length} bytes)`;
      return `${e.injected ? 'Your frame carried' : `${side(e.dir)} sent`} ${e.opcode === 1 ? 'TEXT' : 'BINARY'}${body}${e.injected ? ' (injected by you)' : ''}`;
    }
    case 'close':
      return `${e.injected ? 'Your' : `${side(e.dir)} sent`} CLOSE ${e.explanation}${e.reason ? ` "${e.reason}"` : ''}${e.injected ? ' (injected by you)' : ''}`;
    case 'end':
      return `Connection ended${e.error ? ` (${e.error})` : ''}: the client's onclose reports ${e.code ?? '—'}${e.code !== null ? `, ${explainCloseCode(e.code)}` : ''}`;
    default:
      return '';
  }
}

/**
 * The frame the crafter injected, as the wiretap decoded it: the first frame in that direction
 * after the send that the wiretap marked `injected` and whose header is the crafted header,
 * byte for byte (the mark tells it from the learner's own frames, however alike; the header
 * from another injection, such as a close with code, at about the same time).
 */
function injectedFrame(conn: number, afterT: number, dir: Direction, headerHex: string): FrameEvent | null {
  const frames = model.frames;
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = frames.at(i)!;
    if (f.t <= afterT) break;
    if (f.injected && f.conn === conn && f.dir === dir && f.header.toLowerCase() === headerHex) {
      // Keep going back: the first such frame after the send is the one (the learner may craft a like one again).
      let first = f;
      for (let j = i - 1; j >= 0 && frames.at(j)!.t > afterT; j--) {
        const g = frames.at(j)!;
        if (g.injected && g.conn === conn && g.dir === dir && g.header.toLowerCase() === headerHex) first = g;
      }
      return first;
    }
  }
  return null;
}

function lastT(conn: number): number {
  const ev = model.events;
  for (let abs = ev.base + ev.length - 1; abs >= ev.base; abs--) if (ev.conn(abs) === conn) return ev.t(abs);
  return 0;
}

export function Crafter() {
  version.value;
  const conns = openConnections();
  const [connChoice, setConn] = useState<number | null>(null);
  const conn = connChoice !== null && conns.includes(connChoice) ? connChoice : selectedConn.value !== null && conns.includes(selectedConn.value) ? selectedConn.value : conns[0] ?? null;
  const [dir, setDir] = useState<Direction>('client');
  const [presetRule, setPresetRule] = useState<string>(CUSTOM);
  const [form, setForm] = useState<Form>(NEW_FRAME);
  const [result, setResult] = useState<{ ok: boolean; text: string; conn?: number; afterT?: number; dir?: Direction; header?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  // The key used when none is typed: random, shown in the preview, and new after each send (§5.3).
  const [autoKey, setAutoKey] = useState(randomKeyHex);
  const preset: Preset | null = PRESET_LIST.find((p) => p.rule === presetRule) ?? null;
  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });

  const built = useMemo(() => {
    try {
      const main = buildFrame(describe({ ...form, maskKey: form.maskKey.trim() === '' ? autoKey : form.maskKey }));
      const before = (preset?.before ?? []).map((d) => buildFrame(d));
      return { main, before, error: null as string | null };
    } catch (err) {
      return { main: null, before: [], error: err instanceof CraftError ? err.message : String(err) };
    }
  }, [form, presetRule, autoKey]);

  const loadPreset = (rule: string) => {
    setPresetRule(rule);
    const p = PRESET_LIST.find((x) => x.rule === rule);
    if (p) {
      setForm(formOf(p.frame));
      setDir(p.dir);
    }
  };

  const send = async () => {
    if (conn === null || !built.main) return;
    setBusy(true);
    const bytes = concatBytes([...built.before.map((b) => b.bytes), built.main.bytes]);
    if (form.mask && form.maskKey.trim() === '') setAutoKey(randomKeyHex());
    const afterT = lastT(conn);
    try {
      const r = await control<InjectResult>('/api/inject', 'POST', { conn, dir, hex: toHex(bytes, '') });
      const to = dir === 'client' ? 'the server' : 'the client';
      setResult({
        ok: true,
        conn,
        afterT,
        dir,
        header: toHex(built.main.bytes.subarray(0, built.main.headerLength), ''),
        text:
          r.status === 'sent'
            ? `Sent ${r.bytes} bytes to ${to} on #${conn}.`
            : `The ${dir} is in the middle of a frame: the ${r.bytes} bytes go to ${to} as soon as it ends.`,
      });
    } catch (err) {
      setResult({ ok: false, text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const sent = result?.ok && result.conn !== undefined && result.dir !== undefined ? { conn: result.conn, afterT: result.afterT ?? 0, dir: result.dir, header: result.header ?? '' } : null;
  const yours = sent ? injectedFrame(sent.conn, sent.afterT, sent.dir, sent.header) : null;
  const reaction = sent ? reactionOf(sent.conn, sent.afterT, sent.dir) : [];
  // The connection sent on has closed since: say so instead of a "Sent …" that reads as now.
  const sentConnGone = sent !== null && !conns.includes(sent.conn);
  const showYours = () => {
    if (!yours) return;
    filters.value = { ...filters.value, conn: yours.conn };
    selection.value = { kind: 'frame', key: frameKey(yours.conn, yours.dir, yours.seq) };
    detailTab.value = 'frame';
    centerView.value = 'timeline';
  };
  const opcodes = Array.from({ length: 16 }, (_, i) => i);
  const masksWrong = form.mask !== (dir === 'client');

  return (
    <section class="control crafter" aria-label="Frame crafter">
      <h2>Frame crafter</h2>
      <div class="control-row">
        <label>
          Connection{' '}
          <select aria-label="Connection to inject into" value={conn === null ? '' : String(conn)} disabled={conns.length === 0} onChange={(e) => setConn(Number((e.currentTarget as HTMLSelectElement).value))}>
            {conns.length === 0 && <option value="">no open connection</option>}
            {conns.map((c) => (
              <option value={String(c)}>#{c}</option>
            ))}
          </select>
        </label>
        <span class="seg" role="group" aria-label="Send as">
          <button aria-pressed={dir === 'client'} onClick={() => setDir('client')} title="Pretend to be the client: the frame goes to the server">
            as client → server
          </button>
          <button aria-pressed={dir === 'server'} onClick={() => setDir('server')} title="Pretend to be the server: the frame goes to the client">
            as server → client
          </button>
        </span>
      </div>
      <div class="control-row">
        <label class="grow">
          Preset{' '}
          <select aria-label="Preset" value={presetRule} onChange={(e) => loadPreset((e.currentTarget as HTMLSelectElement).value)}>
            <option value={CUSTOM}>— your own frame —</option>
            {PRESET_LIST.map((p) => (
              <option value={p.rule}>
                {p.title} ({p.rule})
              </option>
            ))}
          </select>
        </label>
        <button class="link" onClick={() => {
          setPresetRule(CUSTOM);
          setForm(NEW_FRAME);
        }}>
          New frame
        </button>
      </div>
      {preset && (
        <div class="preset-note">
          <b>{RULES[preset.rule].section}</b> {RULES[preset.rule].text} A conforming {preset.dir === 'client' ? 'server' : 'client'} closes with{' '}
          <b>{presetCloseCode(preset)}</b>.
          {preset.needs === 'deflate' && <span> Needs a connection with permessage-deflate.</span>}
          {preset.note && <span class="muted"> {preset.note}</span>}
        </div>
      )}

      <fieldset class="craft-fields">
        <legend>Header</legend>
        <div class="control-row bits">
          <Bit label="FIN" checked={form.fin} onChange={(v) => set({ fin: v })} title="Last frame of the message" />
          <Bit label="RSV1" checked={form.rsv1} onChange={(v) => set({ rsv1: v })} title="permessage-deflate: compressed" />
          <Bit label="RSV2" checked={form.rsv2} onChange={(v) => set({ rsv2: v })} title="Reserved" />
          <Bit label="RSV3" checked={form.rsv3} onChange={(v) => set({ rsv3: v })} title="Reserved" />
          <label>
            Opcode{' '}
            <select aria-label="Opcode" value={String(form.opcode)} onChange={(e) => set({ opcode: Number((e.currentTarget as HTMLSelectElement).value) })}>
              {opcodes.map((o) => (
                <option value={String(o)}>
                  0x{o.toString(16)} {opcodeName(o)}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div class="control-row">
          <Bit label="MASK" checked={form.mask} onChange={(v) => set({ mask: v })} title="Clients mask, servers do not (§5.1)" />
          <label>
            key{' '}
            <input
              class="mono key"
              type="text"
              value={form.maskKey}
              placeholder={autoKey}
              disabled={!form.mask}
              aria-label="Masking key (8 hex digits)"
              onInput={(e) => set({ maskKey: (e.currentTarget as HTMLInputElement).value })}
            />
          </label>
          <button disabled={!form.mask} onClick={() => set({ maskKey: randomKeyHex() })} title="A new random key">
            new key
          </button>
          {masksWrong && <span class="warn">{dir === 'client' ? 'A client must mask (§5.1).' : 'A server must not mask (§5.1).'}</span>}
        </div>
        <div class="control-row">
          <Bit plain label="the length lies:" checked={form.lie} onChange={(v) => set({ lie: v, announced: v && form.announced === '' ? String(built.main?.sent ?? 0) : form.announced })} title="Announce a length other than the bytes sent" />
          <input
            class="mono len"
            type="text"
            inputMode="numeric"
            value={form.lie ? form.announced : String(built.main?.sent ?? '')}
            disabled={!form.lie}
            aria-label="Announced payload length"
            onInput={(e) => set({ announced: (e.currentTarget as HTMLInputElement).value })}
          />
          <span class="muted">bytes announced</span>
          <label>
            length field{' '}
            <select aria-label="Length field" value={String(form.encoding)} onChange={(e) => {
              const v = (e.currentTarget as HTMLSelectElement).value;
              set({ encoding: v === 'auto' ? 'auto' : (Number(v) as 7 | 16 | 64) });
            }}>
              <option value="auto">shortest</option>
              <option value="7">7-bit</option>
              <option value="16">16-bit (126)</option>
              <option value="64">64-bit (127)</option>
            </select>
          </label>
        </div>
      </fieldset>

      <fieldset class="craft-fields">
        <legend>Payload</legend>
        <div class="control-row">
          <span class="seg" role="group" aria-label="Payload as">
            {(['text', 'hex', 'close'] as const).map((k) => (
              <button aria-pressed={form.payloadKind === k} onClick={() => set({ payloadKind: k })}>
                {k === 'text' ? 'text' : k === 'hex' ? 'hex' : 'close code + reason'}
              </button>
            ))}
          </span>
        </div>
        {form.payloadKind === 'close' ? (
          <div class="control-row">
            <input type="number" min={0} max={65535} value={form.closeCode} placeholder="no code" aria-label="Close code" onInput={(e) => set({ closeCode: (e.currentTarget as HTMLInputElement).value })} />
            <input class="grow" type="text" value={form.closeReason} placeholder="reason" aria-label="Close reason" onInput={(e) => set({ closeReason: (e.currentTarget as HTMLInputElement).value })} />
            {form.closeCode !== '' && <span class="muted">{explainCloseCode(Number(form.closeCode))}</span>}
          </div>
        ) : (
          <textarea
            class={form.payloadKind === 'hex' ? 'mono' : ''}
            rows={2}
            spellcheck={false}
            aria-label={form.payloadKind === 'hex' ? 'Payload as hex' : 'Payload as text'}
            placeholder={form.payloadKind === 'hex' ? '48 65 6c 6c 6f' : 'Hello'}
            value={form.payloadKind === 'hex' ? form.hex : form.text}
            onInput={(e) => set(form.payloadKind === 'hex' ? { hex: (e.currentTarget as HTMLTextAreaElement).value } : { text: (e.currentTarget as HTMLTextAreaElement).value })}
          />
        )}
      </fieldset>

      <div class="craft-preview">
        {built.error ? (
          <p class="control-error" role="alert">
            {built.error}
          </p>
        ) : (
          built.main && (
            <>
              {built.before.length > 0 && (
                <p class="muted">
                  Sent first:{' '}
                  {built.before.map((b) => (
                    <code>
                      {opcodeName(b.bytes[0]! & 0x0f)}
                      {b.bytes[0]! & 0x80 ? '' : ' (no FIN)'} {toHex(b.bytes)}
                    </code>
                  ))}
                </p>
              )}
              <BytesPreview frame={built.main} />
              <p class="muted">
                {built.main.headerLength}-byte header + {built.main.sent} bytes of payload = {built.main.bytes.length} bytes
                {form.mask && form.maskKey.trim() === '' ? ' (a random key, new after each send)' : ''}
              </p>
              {built.main.notes.map((n) => (
                <p class="warn">{n}</p>
              ))}
            </>
          )
        )}
      </div>
      <div class="control-row">
        <button class="primary" disabled={conn === null || !built.main || busy} onClick={() => void send()}>
          Send {dir === 'client' ? 'to the server' : 'to the client'}
          {conn !== null ? ` on #${conn}` : ''}
        </button>
        {/* One state at a time: nothing to send on, what the last send did, or that its connection closed since. */}
        {sentConnGone ? (
          <span class="muted" role="status">
            #{sent!.conn} has closed (its end is in the answer below).
            {conns.length === 0 ? " To send again, open a connection: run client.js, or any client on the wiretap's port." : ''}
          </span>
        ) : conns.length === 0 && !(result && !result.ok) ? (
          <span class="muted">Open a connection first (run client.js, or any client on the wiretap's port).</span>
        ) : (
          result && (
            <span class={result.ok ? 'craft-result' : 'craft-result control-error'} role="status">
              {result.text}
            </span>
          )
        )}
      </div>
      {sent && (yours || reaction.length > 0) && (
        <div class="craft-reaction" role="region" aria-label="The answer">
          <h3>The answer</h3>
          {yours && (
            <p class="craft-yours">
              Your frame is in the timeline at <b>{(yours.t / 1000).toFixed(3)}s</b> on #{yours.conn} as a {opcodeName(yours.opcode)} frame{' '}
              {yours.dir === 'client' ? 'from the client' : 'from the server'}: <b>injected by you</b> through the wiretap, not sent by your {yours.dir === 'client' ? 'client' : 'server'}.{' '}
              <button class="link-button" onClick={showYours}>
                Show your frame
              </button>
            </p>
          )}
          {reaction.length === 0 ? (
            <p class="muted">No answer yet.</p>
          ) : (
            <ul>
              {reaction.map((e) => (
                <li class={e.type === 'violation' ? 'bad' : ''}>{reactionLine(e, yours)}</li>
              ))}
            </ul>
          )}
          <button
            class="link"
            onClick={() => {
              filters.value = { ...filters.value, conn: result!.conn! };
              centerView.value = 'timeline';
            }}
          >
            Show #{result!.conn} in the timeline
          </button>
        </div>
      )}
    </section>
  );
}
