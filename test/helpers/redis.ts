/**
 * Debian's redis-server for lesson 20's tests. Without it those suites are skipped with a loud
 * warning, except in CI (process.env.CI), where a missing redis-server fails the run: .ci/run
 * installs it, and a CI that silently skips lesson 20 tests nothing of it.
 */
import { findRedisServer } from '../../server/runner/redis-server.ts';

export interface RedisAvailability {
  /** The redis-server binary, or null when the suites must be skipped. */
  binary: string | null;
  /** Why they are skipped ('' when redis-server is there). */
  reason: string;
}

/** Is there a redis-server? Call at the top of a test file, outside any test. */
export function redisAvailability(): RedisAvailability {
  const binary = findRedisServer();
  if (binary) return { binary, reason: '' };
  const reason = 'REDIS TESTS SKIPPED: no redis-server; install it with apt-get install -y redis-server (or set WSPLAY_REDIS_SERVER)';
  if (process.env.CI) throw new Error('No redis-server, and CI is set: lesson 20\'s tests must run in CI. Install it with apt-get install -y redis-server, or set WSPLAY_REDIS_SERVER.');
  const bar = '!'.repeat(reason.length + 8);
  console.warn(`\n${bar}\n!!! ${reason} !!!\n${bar}\n`);
  return { binary: null, reason };
}
