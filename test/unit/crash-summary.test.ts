/**
 * The crash notice's summary of a learner server's error output, from what Node really prints:
 * each script below is run by this Node and its stderr summarised.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { summarizeCrash } from '../../ui/src/runner/crash.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `code` as server.js; its stderr. */
function crash(code: string): string {
  writeFileSync(path.join(dir, 'server.js'), code);
  const r = spawnSync(process.execPath, ['server.js'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
  expect(r.status).not.toBe(0);
  return r.stderr;
}

const FILES = ['client.js', 'server.js'];

describe('summarizeCrash', () => {
  it('names the error and the line of server.js that threw it', () => {
    const stderr = crash(`const f = (x) => x.y.z;\n\nsetTimeout(() => {\n  f({});\n}, 0);\n`);
    expect(summarizeCrash(stderr, FILES)).toEqual({
      error: "TypeError: Cannot read properties of undefined (reading 'z')",
      at: { file: 'server.js', line: 1, column: expect.any(Number) },
    });
  });

  it('names a syntax error at its line (Node gives no column)', () => {
    const stderr = crash(`const a = 1;\nconst b = (;\n`);
    const s = summarizeCrash(stderr, FILES);
    expect(s.error).toMatch(/^SyntaxError: /);
    expect(s.at).toEqual({ file: 'server.js', line: 2, column: null });
  });

  it("names a missing module and the learner's line that required it", () => {
    const stderr = crash(`\nconst x = require('no-such-module-here');\n`);
    const s = summarizeCrash(stderr, FILES);
    expect(s.error).toBe("Error: Cannot find module 'no-such-module-here'");
    expect(s.at).toMatchObject({ file: 'server.js', line: 2 });
  });

  it("gives no place when the stack names none of the learner's files", () => {
    const stderr = crash(`const { EventEmitter } = require('node:events');\nnew EventEmitter().emit('error', new RangeError('out of range'));\n`);
    const s = summarizeCrash(stderr, ['client.js']);
    expect(s.error).toBe('RangeError: out of range');
    expect(s.at).toBeNull();
  });

  it('gives nothing for output that is not an error', () => {
    expect(summarizeCrash('killed\n', FILES)).toEqual({ error: null, at: null });
  });
});
