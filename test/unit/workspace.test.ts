/**
 * The learner's files on disk (server/runner/workspace.ts): seeded from the course's code once,
 * never overwritten after, kept across a restart of the whole playground, edits made in another
 * editor noticed, and every name that would lead out of the folder refused with a 403 error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { STARTERS_DIR, Workspace, WorkspacePathError, type FileInfo } from '../../server/runner/workspace.ts';
import { until } from '../helpers/net.ts';

const base = mkdtempSync(join(tmpdir(), 'wsplay-workspace-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let folders = 0;
/** A fresh parent folder with the workspace inside it, so "outside" is a real place with a secret. */
function place(): { parent: string; dir: string; secret: string } {
  const parent = join(base, `case-${++folders}`);
  mkdirSync(parent);
  const secret = join(parent, 'secret.txt');
  writeFileSync(secret, 'TOP SECRET: outside the workspace\n');
  return { parent, dir: join(parent, 'workspace'), secret };
}

const open: Workspace[] = [];
function workspace(dir: string): Workspace {
  const w = new Workspace(dir);
  open.push(w);
  return w;
}
afterEach(() => {
  for (const w of open.splice(0)) w.close();
});

const starter = (name: string) => readFileSync(join(STARTERS_DIR, name), 'utf8');

describe('seeding', () => {
  it("seeds client.js and server.js with the course's code, verbatim", () => {
    const { dir } = place();
    const w = workspace(dir);
    expect(readFileSync(join(dir, 'client.js'), 'utf8')).toBe(starter('client.js'));
    expect(readFileSync(join(dir, 'server.js'), 'utf8')).toBe(starter('server.js'));
    expect(starter('server.js')).toContain('new WebSocketServer({ port: 9900 })');
    expect(starter('client.js')).toContain("new WebSocket('ws://localhost:9900')");
    expect(w.list().map((f) => f.name)).toEqual(['client.js', 'server.js']);
    // The course's server uses require(): the folder is CommonJS whatever the project around it is.
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({ type: 'commonjs' });
  });

  it("never overwrites the learner's edits when a new Workspace opens the same folder", () => {
    const { dir } = place();
    workspace(dir);
    writeFileSync(join(dir, 'server.js'), '// my own server\n');
    unlinkSync(join(dir, 'client.js'));
    const again = workspace(dir);
    expect(again.read('server.js')).toBe('// my own server\n');
    // A file that is missing is seeded again; the edited one is left alone.
    expect(again.read('client.js')).toBe(starter('client.js'));
  });

  it('keeps a write across a restart of the whole playground (a new Workspace on the same folder)', () => {
    const { dir } = place();
    const first = workspace(dir);
    const edited = "const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => socket.send('hi');\n";
    const info = first.write('client.js', edited);
    expect(info).toMatchObject({ name: 'client.js', size: Buffer.byteLength(edited) });
    first.close();
    const second = workspace(dir);
    expect(second.read('client.js')).toBe(edited);
    expect(second.info('client.js').size).toBe(Buffer.byteLength(edited));
  });

  it('puts the starter back on reset and reports what it wrote', () => {
    const { dir } = place();
    const w = workspace(dir);
    w.write('server.js', 'broken(');
    const reset = w.reset('server.js');
    expect(reset.content).toBe(starter('server.js'));
    expect(reset.size).toBe(Buffer.byteLength(starter('server.js')));
    expect(readFileSync(join(dir, 'server.js'), 'utf8')).toBe(starter('server.js'));
  });
});

describe('edits made outside the dashboard', () => {
  it("reports an edit made on disk by another program with the file's new info, and not its own writes", async () => {
    const { dir } = place();
    const w = workspace(dir);
    const changes: FileInfo[] = [];
    const saved: FileInfo[] = [];
    w.on('change', (info: FileInfo) => changes.push(info));
    w.on('saved', (info: FileInfo) => saved.push(info));
    w.watch();

    // Our own save of server.js, then another editor's save of client.js right after: both are
    // settled by the same debounce, ours first, so an event for ours would arrive first.
    w.write('server.js', '// saved from the dashboard\n');
    expect(saved.map((s) => s.name)).toEqual(['server.js']);
    const outside = "// saved in VS Code\nconst socket = new WebSocket('ws://localhost:9900');\n";
    writeFileSync(join(dir, 'client.js'), outside);

    const first = await until(() => changes[0], 5000, () => 'a change event');
    expect(first).toMatchObject({ name: 'client.js', size: Buffer.byteLength(outside) });
    expect(first.mtime).toBeGreaterThan(0);
    expect(changes.map((c) => c.name)).toEqual(['client.js']);
    expect(w.read('client.js')).toBe(outside);

    // A second outside edit of the file we saved is reported too, with its new size.
    const again = '// edited on disk after the dashboard saved it\n';
    writeFileSync(join(dir, 'server.js'), again);
    const second = await until(() => changes[1], 5000, () => `a second change event (have ${JSON.stringify(changes)})`);
    expect(second).toMatchObject({ name: 'server.js', size: Buffer.byteLength(again) });
  });

  it('ignores files that are not the workspace files', async () => {
    const { dir } = place();
    const w = workspace(dir);
    const changes: FileInfo[] = [];
    w.on('change', (info: FileInfo) => changes.push(info));
    w.watch();
    writeFileSync(join(dir, 'notes.txt'), 'scratch');
    writeFileSync(join(dir, 'server.js'), '// changed\n');
    await until(() => changes[0], 5000, () => 'a change event');
    expect(changes.map((c) => c.name)).toEqual(['server.js']);
  });
});

describe('paths', () => {
  const escapes = [
    '..',
    '../x',
    '../secret.txt',
    'a/../../x',
    'a/..',
    '%2e%2e%2f',
    '%2e%2e%2fsecret.txt',
    '..%2fsecret.txt',
    '%2e%2e/secret.txt',
    '%2E%2E%2Fsecret.txt',
    // Encoded twice: a check that decodes once must not let these through to a second decoding.
    '%252e%252e%252fsecret.txt',
    '..%252fsecret.txt',
    '%252e%252e/secret.txt',
    '/etc/passwd',
    '%2fetc%2fpasswd',
    '..\\secret.txt',
    'a\\..\\..\\secret.txt',
    '%5c..%5csecret.txt',
    'client.js\0.txt',
    'client.js%00',
    '',
  ];

  it.each(escapes)('refuses %j with a 403 WorkspacePathError', (name) => {
    const { dir } = place();
    const w = workspace(dir);
    let error: unknown;
    try {
      w.resolve(name);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WorkspacePathError);
    expect((error as WorkspacePathError).status).toBe(403);
    // read and write go through the same check.
    expect(() => w.read(name)).toThrow(WorkspacePathError);
    expect(() => w.write(name, 'x')).toThrow(WorkspacePathError);
  });

  it('refuses a symlink inside the workspace that points outside it', () => {
    const { dir, secret } = place();
    const w = workspace(dir);
    symlinkSync(secret, join(dir, 'link.js'));
    expect(() => w.resolve('link.js')).toThrow(WorkspacePathError);
    expect(() => w.read('link.js')).toThrow(WorkspacePathError);
    // A link in a folder inside the workspace, to a folder outside it.
    symlinkSync(join(dir, '..'), join(dir, 'up'));
    expect(() => w.read('up/secret.txt')).toThrow(WorkspacePathError);
  });

  it('refuses a workspace file replaced by a symlink to a file outside, and never reads or writes through it', () => {
    const { dir, secret } = place();
    const w = workspace(dir);
    unlinkSync(join(dir, 'client.js'));
    symlinkSync(secret, join(dir, 'client.js'));
    expect(() => w.read('client.js')).toThrow(WorkspacePathError);
    expect(() => w.write('client.js', 'overwritten')).toThrow(WorkspacePathError);
    expect(readFileSync(secret, 'utf8')).toBe('TOP SECRET: outside the workspace\n');
  });

  it('refuses a dangling symlink to a place outside, so a write cannot create a file there', () => {
    const { dir, parent } = place();
    const w = workspace(dir);
    const target = join(parent, 'created-by-write.txt');
    unlinkSync(join(dir, 'server.js'));
    symlinkSync(target, join(dir, 'server.js'));
    expect(() => w.write('server.js', 'escaped')).toThrow(WorkspacePathError);
    expect(existsSync(target)).toBe(false);
  });

  it('accepts a plain name and resolves it inside the workspace', () => {
    const { dir } = place();
    const w = workspace(dir);
    expect(w.resolve('client.js')).toBe(join(w.root, 'client.js'));
    expect(w.resolve('server.js')).toBe(join(w.root, 'server.js'));
    // Percent-encoding of an ordinary name is decoded, not refused.
    expect(w.resolve('server%2ejs')).toBe(join(w.root, 'server.js'));
    expect(w.read('client.js')).toBe(starter('client.js'));
  });

  it('writes only the workspace files', () => {
    const { dir } = place();
    const w = workspace(dir);
    expect(() => w.write('other.js', 'x')).toThrow(WorkspacePathError);
    expect(existsSync(join(dir, 'other.js'))).toBe(false);
  });
});
