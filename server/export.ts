import { closeSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import type { WireEvent } from './capture/events.ts';
import { exportHar } from './capture/har-writer.ts';
import { exportPcapng } from './capture/pcapng-writer.ts';
import { readRecordingFile } from './capture/recording-reader.ts';
import { recordedStart } from './capture/wall-clock.ts';

/**
 * `wsplay export RECORDING --format har|pcapng -o FILE`, and the same conversion for the
 * dashboard's GET /api/export: events in, a HAR or pcapng file out.
 */

export const EXPORT_FORMATS = ['har', 'pcapng'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_USAGE = 'npx wsplay export RECORDING --format har|pcapng -o FILE';

export interface ExportOutput {
  format: ExportFormat;
  mimeType: string;
  extension: string;
  /** One line: what was exported. */
  summary: string;
  /** What a person should know about the result (bytes the recording lacks, ...). */
  notes: string[];
  /** The file's bytes, in order. */
  chunks(): Iterable<Buffer>;
}

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0';
  } catch {
    return '0';
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Where the events come from, and the wall-clock time of t = 0 to use if they do not say it. */
export interface ExportSource {
  /** Where the events come from, for the file's comment: `the dashboard`, `the recording x.jsonl`. */
  origin: string;
  /**
   * The wall-clock time (epoch ms) of t = 0, estimated: used only when no open event carries
   * `wall` (a recording made before open events had it), since event times are relative to the
   * wiretap's start. When one does, the recording's own clock anchors every time.
   */
  startedAt: number;
  /** How `startedAt` was estimated, for the file's comment when it is used. */
  estimatedBy?: string;
  /** pcapng: the server's port as the client used it (the wiretap's); unset, the recorded target's. */
  serverPort?: number;
}

/** Convert events. */
export function exportEvents(events: WireEvent[], format: ExportFormat, source: ExportSource): ExportOutput {
  const recorded = recordedStart(events);
  const startedAt = recorded ?? source.startedAt;
  const clock = recorded !== null ? "times on the wiretap's wall clock, as recorded" : source.estimatedBy;
  const comment = `Exported by wsplay from ${source.origin}${clock ? ` (${clock})` : ''}.`;
  if (format === 'har') {
    const { har, notes } = exportHar(events, { startedAt, creator: { name: 'wsplay', version: packageVersion() }, comment });
    const messages = har.log.entries.reduce((n, e) => n + (e._webSocketMessages?.length ?? 0), 0);
    return {
      format,
      mimeType: 'application/json',
      extension: 'har',
      summary: `${plural(har.log.entries.length, 'connection')} (${plural(messages, 'message')})`,
      notes,
      chunks: () => [Buffer.from(`${JSON.stringify(har, null, 2)}\n`, 'utf8')],
    };
  }
  const pcap = exportPcapng(events, {
    startedAt,
    comment: `${comment} The TCP/IP headers are synthesized (127.0.0.1, ${source.serverPort ? `the client's view: the server on port ${source.serverPort}, where the client connected` : 'the recorded ports'}, sequence numbers from the stream offsets); the TCP payloads are the recorded bytes.`,
    serverPort: source.serverPort,
  });
  return {
    format,
    mimeType: 'application/x-pcapng',
    extension: 'pcapng',
    summary: `${plural(pcap.connections, 'connection')} (${plural(pcap.frames, 'frame')})`,
    notes: pcap.notes,
    chunks: () => pcap.chunks(),
  };
}

/** The largest `t` of any event (0 for none). */
export function lastTime(events: WireEvent[]): number {
  let last = 0;
  for (const e of events) {
    last = Math.max(last, e.t);
    if (e.type === 'frame') last = Math.max(last, e.tEnd);
  }
  return last;
}

/** A problem the user can fix: one line on stderr, exit code 2. */
export class ExportError extends Error {}

interface Io {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const defaultIo: Io = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

const EXPORT_HELP = `Usage: ${EXPORT_USAGE}
  Convert a recording (wsplay start|tap --record FILE) to a HAR file (Chrome's WebSocket
  messages included) or a pcapng capture for Wireshark and tshark.
  --format, -f   har or pcapng (default: from the -o file's extension)
  --output, -o   the file to write (default: the recording's name with .har or .pcapng)`;

/** Warnings printed for bad lines before "… and N more". */
const MAX_LINE_WARNINGS = 20;

function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** The export command. Returns the exit code: 0 done, 2 a problem the user can fix. */
export function runExportCommand(args: string[], io: Io = defaultIo): number {
  try {
    return exportCommand(args, io);
  } catch (err) {
    if (err instanceof ExportError) {
      io.stderr(err.message);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      // Node's message goes on with advice about `--`: the first sentence is the one that helps.
      io.stderr(`${(err as Error).message.split(/\.\s/)[0]!.replace(/\.?$/, '.')} Run: ${EXPORT_USAGE}`);
      return 2;
    }
    throw err;
  }
}

function exportCommand(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      format: { type: 'string', short: 'f' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(EXPORT_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new ExportError(`wsplay export needs a recording to read: ${EXPORT_USAGE}`);
  if (positionals.length > 1) throw new ExportError(`wsplay export reads one recording, got ${positionals.length} (${positionals.join(', ')}): ${EXPORT_USAGE}`);
  const input = positionals[0]!;

  let format: string | undefined = values.format?.toLowerCase();
  if (format === undefined && values.output) format = extname(values.output).slice(1).toLowerCase();
  if (format === undefined || format === '') throw new ExportError(`wsplay export needs --format har or --format pcapng: ${EXPORT_USAGE}`);
  if (!isExportFormat(format)) {
    throw new ExportError(
      values.format === undefined
        ? `Cannot tell the format from "${values.output}": add --format har or --format pcapng.`
        : `Unknown format "${values.format}": use --format har or --format pcapng.`,
    );
  }
  const output = values.output ?? `${input.replace(/\.jsonl?$/i, '')}.${format}`;

  let stat;
  try {
    stat = statSync(input);
  } catch (err) {
    throw new ExportError(`Cannot read the recording ${input} (${fsReason(err)}): check the path. Recordings are written by: npx wsplay start --record FILE`);
  }
  if (stat.isDirectory()) throw new ExportError(`${input} is a folder, not a recording: give the .jsonl file written by --record.`);
  let recording;
  try {
    recording = readRecordingFile(input);
  } catch (err) {
    throw new ExportError(`Cannot read the recording ${input} (${fsReason(err)}).`);
  }
  // `errors` holds the first few bad lines of each kind; `badLines` counts them all.
  const { events, errors, badLines } = recording;
  if (events.length === 0) {
    if (badLines === 0) throw new ExportError(`${input} is empty: no events to export.`);
    const more = badLines > 1 ? ` (and ${plural(badLines - 1, 'other bad line')})` : '';
    throw new ExportError(`${input} holds no readable events: ${errors[0]!.message}${more}. Is it a wsplay recording?`);
  }
  if (sameFile(input, output)) throw new ExportError(`The output ${output} is the recording itself: pick another file with -o.`);

  const name = basename(input);
  const warned = errors.slice(0, MAX_LINE_WARNINGS);
  for (const e of warned) io.stderr(`Warning: ${name}: ${e.message}; skipped.`);
  if (badLines > warned.length) io.stderr(`Warning: ${name}: ${plural(badLines - warned.length, 'more bad line')} skipped.`);

  // A recording made before open events had `wall` holds no wall clock: its last line was
  // written (within a tick) at the file's modification time, which anchors every other time.
  // exportEvents uses this only for such a recording.
  const out = exportEvents(events, format, {
    origin: `the recording ${name}`,
    startedAt: stat.mtimeMs - lastTime(events),
    estimatedBy: "times anchored to the file's modification time",
  });
  writeOutput(output, out.chunks());
  for (const note of out.notes) io.stderr(`Note: ${note}`);
  const skipped = badLines > 0 ? `; ${plural(badLines, 'bad line')} skipped` : '';
  io.stdout(`Exported ${out.summary} to ${output}${skipped}.`);
  return 0;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function writeOutput(output: string, chunks: Iterable<Buffer>): void {
  let fd: number;
  try {
    fd = openSync(output, 'w');
  } catch (err) {
    const code = fsReason(err);
    const why = code === 'ENOENT' ? 'its folder does not exist' : code === 'EISDIR' ? 'it is a folder' : code;
    throw new ExportError(`Cannot write ${output} (${why}): pick a file in a folder you can write to with -o.`);
  }
  const discard = () => {
    closeSync(fd);
    try {
      unlinkSync(output);
    } catch {
      // Nothing to remove.
    }
  };
  // Only a failed write is the disk's fault: an error making the bytes is wsplay's, and is not
  // blamed on free space.
  const iterator = chunks[Symbol.iterator]();
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = iterator.next();
    } catch (err) {
      discard();
      throw new ExportError(`Making ${output} failed (${(err as Error).message}); nothing was kept. This is a bug in wsplay: please report it with the recording.`);
    }
    if (next.done) break;
    const chunk = next.value;
    try {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done);
    } catch (err) {
      discard();
      throw new ExportError(`Writing ${output} failed (${fsReason(err)}); nothing was kept. Free some space or pick another place with -o.`);
    }
  }
  closeSync(fd);
}
