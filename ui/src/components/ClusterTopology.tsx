import type { TopologyInfo } from '../../../server/app/stream-protocol.ts';
// Also the Connections list's "→ a" (its rule lives here: this module loads with the header).
import '../cluster.css';

/**
 * The header's target while lesson 20 runs server.js as several processes behind the wiretap:
 * each process with its internal port, in the wiretap's round-robin order, and the Redis they
 * share. Ports only: every one is on 127.0.0.1 (the tooltip says it whole), so the line keeps to
 * one row at 1024 px.
 */
export function ClusterTarget({ t, file, tap }: { t: TopologyInfo & { cluster: NonNullable<TopologyInfo['cluster']> }; file: string; tap: string }) {
  const { instances, redis } = t.cluster;
  const host = t.target.host;
  const route =
    `Clients connect to the wiretap at ${tap}, which hands each new connection to the next of ${instances.length} ${file} processes in turn: ` +
    instances.map((i) => `process ${i.instance} on ${host}:${i.port}`).join(', ') +
    (redis ? `. They share the Redis at redis://${redis.host}:${redis.port} (REDIS_URL).` : '. No Redis runs (see the console).');
  return (
    <span class="topology topo-target topo-cluster" title={route}>
      → {file}{' '}
      {instances.map((i, n) => (
        <>
          {n > 0 && <span class="muted"> · </span>}
          <span class="topo-inst">
            <b>{i.instance}</b> <span class="muted">:{i.port}</span>
          </span>
        </>
      ))}
      {redis && (
        <>
          <span class="muted"> + </span>
          <span class="topo-redis">
            Redis <span class="muted">:{redis.port}</span>
          </span>
        </>
      )}
    </span>
  );
}
