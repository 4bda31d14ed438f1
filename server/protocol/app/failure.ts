/**
 * What a decoder of graphql.ts, stomp.ts or mqtt.ts reports when it throws after all: nothing
 * in them is meant to, but a decoder must never take the wiretap down, and a failure swallowed
 * in silence would hide the bug (the fuzz tests look for this rule). Like the frame decoder's
 * `decoder-failure`, it names wsplay, not the peer, as the one at fault.
 */
import type { AppRuleBroken } from './decoder.ts';

export function decoderFailure(protocol: string, err: unknown): AppRuleBroken {
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return {
    rule: 'app-decoder-failure',
    section: 'wsplay (a fault of the decoder, not of the peer)',
    message: `wsplay's ${protocol} decoder failed on this message (${why.slice(0, 200)}); the message is shown undecoded and the decoder goes on with the next. Please report it with a recording of the connection.`,
  };
}
