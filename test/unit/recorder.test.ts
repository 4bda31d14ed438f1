/**
 * The Recorder's bound: a disk that cannot keep up gets large payloads as their previews
 * (counted), then no events at all (counted); nothing it holds grows past its queue's bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MessageEvent } from '../../server/capture/events.ts';
import { readRecordingFile } from '../../server/capture/recording-reader.ts';
import { parseMaxPayload, Recorder } from '../../server/capture/recorder.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-recorder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A binary message of `length` bytes as the decoder hands it out while recording: a 1000-byte preview, the whole payload beside it. */
function bigMessage(conn: number, length: number): MessageEvent {
  const whole = Buffer.alloc(length, conn);
  return {
    type: 'message', conn, t: conn, dir: 'client', opcode: 2, length, compressed: false, frames: 1, firstFrame: 0, lastFrame: 0,
    truncated: true, _bytes: whole.subarray(0, 1000), _whole: { bytes: whole, cut: false },
  };
}

describe('Recorder', () => {
  it('writes whole payloads while its queue has room, previews past it, and counts them', () => {
    const file = path.join(dir, 'bound.jsonl');
    const r = new Recorder(file, { queueBytes: 3_000_000 });
    // All in one turn: nothing is written before the batch, so the queue only fills.
    r.write([bigMessage(1, 1_000_000), bigMessage(2, 1_000_000), bigMessage(3, 1_000_000)]);
    expect([r.lines, r.shed, r.lost]).toEqual([3, 2, 0]);
    expect(r.queued).toBeLessThan(3_000_000);
    r.close();
    expect(r.summary()).toBe('2 large payloads recorded as previews only (the disk could not keep up)');
    const events = readRecordingFile(file).events as MessageEvent[];
    expect(events.map((e) => [e.conn, e.truncated ?? false, Buffer.from(e.base64!, 'base64').length])).toEqual([
      [1, false, 1_000_000],
      [2, true, 1000],
      [3, true, 1000],
    ]);
  });

  it('parses --max-payload with units, within 64 KiB to 16 MiB', () => {
    expect([parseMaxPayload(undefined), parseMaxPayload('4MiB'), parseMaxPayload('512k'), parseMaxPayload('100000')]).toEqual([16 * 1024 * 1024, 4 * 1024 * 1024, 512 * 1024, 100_000]);
    for (const bad of ['1000', '17MiB', 'lots', '-1', '1.5M']) expect(() => parseMaxPayload(bad), bad).toThrow(/64KiB to 16MiB/);
  });
});
