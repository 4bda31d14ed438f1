/**
 * Call a function the learner exports (`module.exports = function accept(key) {...}`) with a
 * list of inputs, in a child process: an infinite loop or a crash in the learner's code cannot
 * take the check down, and each call's result or error comes back on its own.
 *
 * Inputs and results cross as JSON, with bytes kept as bytes: an input `{ $bytes: base64 }` (see
 * `bytesArg`) arrives as a Buffer, and a Buffer, Uint8Array or ArrayBuffer the function returns
 * (anywhere in its result) comes back as `{ $bytes: base64 }` (lesson 5's `decodeFrame`).
 */
import { spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from './workspace.ts';

export type CallResult = { ok: true; value: unknown } | { ok: false; error: string };

const MARK = '@@wsplay-result@@';

const CHILD = `
const path = process.argv[1];
// On stdin, not argv: a frame of 64 KiB is longer than one command-line argument may be.
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'), (k, v) =>
  v && typeof v === 'object' && typeof v.$bytes === 'string' && Object.keys(v).length === 1 ? Buffer.from(v.$bytes, 'base64') : v);
function bytesOut(key, value) {
  const raw = this[key];
  if (raw instanceof ArrayBuffer) return { $bytes: Buffer.from(raw).toString('base64') };
  if (ArrayBuffer.isView(raw)) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return typeof value === 'bigint' ? Number(value) : value;
}
// A bound on what the function may allocate in one piece (callExport's maxAllocBytes): a
// decoder that trusts a header announcing 2 GiB must be told so, not take the machine's memory.
const maxAlloc = Number(process.env.WSPLAY_MAX_ALLOC || 0);
if (maxAlloc > 0) {
  const refuse = (what, n) => {
    const e = new RangeError(what + '(' + n + ') asks for ' + n + ' bytes at once');
    e.name = 'AllocationRefused';
    throw e;
  };
  for (const fn of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const orig = Buffer[fn];
    Buffer[fn] = function (n, ...rest) { if (typeof n === 'number' && n > maxAlloc) refuse('Buffer.' + fn, n); return orig.call(this, n, ...rest); };
  }
  for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'Float64Array', 'Array']) {
    const C = globalThis[name];
    globalThis[name] = new Proxy(C, { construct(t, args, nt) { if (typeof args[0] === 'number' && args[0] > maxAlloc) refuse('new ' + name, args[0]); return Reflect.construct(t, args, nt === globalThis[name] ? t : nt); } });
  }
}
let out;
try {
  const mod = require(path);
  const fn = typeof mod === 'function' ? mod : mod && (mod[process.argv[2]] || mod.default);
  if (typeof fn !== 'function') {
    out = { load: 'it does not export a function (module.exports = function ' + process.argv[2] + '(...) {...})' };
  } else {
    out = { results: inputs.map((args) => {
      try { return { ok: true, value: fn(...args) }; }
      catch (e) { return { ok: false, error: (e && e.name ? e.name + ': ' : '') + (e && e.message !== undefined ? e.message : String(e)) }; }
    }) };
  }
} catch (e) {
  out = { load: String(e && e.stack || e).split('\\n').slice(0, 5).join('\\n') };
}
process.stdout.write('\\n${MARK}' + JSON.stringify(out, bytesOut));
`;

/** An input that reaches the learner's function as a Buffer. */
export function bytesArg(bytes: Uint8Array): { $bytes: string } {
  return { $bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

/** Bytes a result carries (`{ $bytes }`, as returned for a Buffer), or null when it is not bytes. */
export function bytesOf(value: unknown): Buffer | null {
  if (value && typeof value === 'object' && typeof (value as { $bytes?: unknown }).$bytes === 'string') return Buffer.from((value as { $bytes: string }).$bytes, 'base64');
  return null;
}

/**
 * Require `file` (from `dir`), take its exported function (the module itself, or the export
 * named `name`), call it once per argument list. Rejects with a sentence when the module does not
 * load, exports no function, or runs longer than `timeoutMs`.
 */
export interface CallLimits {
  /**
   * Refuse (throw an `AllocationRefused` error inside the call) any single Buffer, typed array,
   * ArrayBuffer or Array asked for with a size above this many bytes or items.
   */
  maxAllocBytes?: number;
  /** The child's V8 heap, in MB: a runaway loop that fills an array fails fast instead of taking the machine's memory. */
  heapMb?: number;
}

export function callExport(dir: string, file: string, name: string, inputs: unknown[][], timeoutMs = 5000, limits: CallLimits = {}): Promise<CallResult[]> {
  return new Promise((resolve, reject) => {
    const heap = limits.heapMb ? [`--max-old-space-size=${limits.heapMb}`] : [];
    // The endless loop is judged by CPU time, which the kernel counts (RLIMIT_CPU: SIGXCPU once
    // it is spent), not by the clock: on a busy machine a correct function can wait seconds for
    // a core. The clock only guards against a child that never gets to run at all.
    const cpuSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const wallMs = Math.max(60_000, timeoutMs * 6);
    const child = spawn('/bin/sh', ['-c', `ulimit -t ${cpuSeconds} && exec "$0" "$@"`, process.execPath, ...heap, '-e', CHILD, join(dir, file), name], {
      cwd: dir,
      env: {
        ...process.env,
        WSPLAY_MAX_ALLOC: limits.maxAllocBytes ? String(limits.maxAllocBytes) : '',
        NODE_OPTIONS: '',
        NODE_PATH: [join(PROJECT_ROOT, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(delimiter),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A child that exits before reading its input must not fail the check with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(inputs));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const endless = () => new Error(`${file} did not return within ${cpuSeconds} s of computing (an endless loop?).`);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(endless());
    }, wallMs);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGXCPU' || signal === 'SIGKILL') return reject(endless());
      let out: { load?: string; results?: CallResult[] };
      try {
        // What the module printed itself comes before the marker.
        const at = stdout.lastIndexOf(MARK);
        out = JSON.parse(at === -1 ? '' : stdout.slice(at + MARK.length)) as typeof out;
      } catch {
        return reject(new Error(`${file} could not be run: ${stderr.trim().split('\n').slice(0, 5).join('\n') || 'it printed nothing'}`));
      }
      if (out.load !== undefined) return reject(new Error(`${file} could not be loaded: ${out.load}`));
      resolve(out.results ?? []);
    });
  });
}
