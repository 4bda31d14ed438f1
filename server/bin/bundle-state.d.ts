/** server/dist/cli.mjs, the bundle server/bin/build-server.js writes. */
export const BUNDLE: URL;
/** True when the bundle exists and no file under the server folder changed after it was written. */
export function bundleIsFresh(bundle?: URL | string, server?: string): boolean;
