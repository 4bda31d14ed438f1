/** Writes the server's bundle (and its .map) to `out`, by default server/dist/cli.mjs. */
export function buildServer(out?: string): Promise<void>;
