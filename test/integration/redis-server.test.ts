/**
 * The throwaway redis-server of lesson 20 (server/runner/redis-server.ts): it answers on its
 * port, writes nothing to disk, and ends with stop() or with the process that started it, even
 * one killed outright (SIGKILL: no handler runs), so no redis-server outlives wsplay.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../server/runner/redis-server.ts';
import { alive, Cleanup, eventually, ROOT } from '../helpers/net.ts';
import { redisAvailability } from '../helpers/redis.ts';

const { binary, reason } = redisAvailability();
const cleanup = new Cleanup();
afterAll(() => cleanup.run());


/** PING over RESP, the reply as text. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (b) => {
      resolve(b.toString());
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe.skipIf(!binary)(binary ? 'RedisServer' : `RedisServer: ${reason}`, () => {
  it('answers on its port and is gone after stop()', async () => {
    const r = new RedisServer(binary!);
    cleanup.add(() => r.stop());
    await r.start();
    const pid = r.pid!;
    expect(alive(pid)).toBe(true);
    expect(await ping(r.port)).toBe('+PONG\r\n');
    await r.stop();
    expect(r.pid).toBeUndefined();
    await eventually(async () => !alive(pid), 5000, `redis-server ${pid} to end`);
  });

  it('ends when the process that started it is killed with SIGKILL', async () => {
    const script = fileURLToPath(new URL('../../server/runner/redis-server.ts', import.meta.url));
    const code = `import { RedisServer } from ${JSON.stringify(script)}; const r = new RedisServer(${JSON.stringify(binary)}); await r.start(); console.log('pid ' + r.pid); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.add(() => child.kill('SIGKILL'));
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /pid (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`the starter exited first: ${out}`)));
    });
    expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    await eventually(async () => !alive(pid), 10_000, `redis-server ${pid} to end with the process that started it`);
  });
});
