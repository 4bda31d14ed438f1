/**
 * `wsplay browser`: a Chromium whose every connection goes through wsplay's proxy, and which
 * alone trusts the local CA. It gets a fresh temporary profile (nothing of the user's own
 * browsing, and nothing kept), `--proxy-server` for the proxy, `--proxy-bypass-list=<-loopback>`
 * (Chromium bypasses the proxy for localhost by default; this sends localhost through it too, so
 * a learner's local server is seen) and `--ignore-certificate-errors-spki-list` with the CA's
 * SPKI: certificates chaining to the local CA are accepted in this browser only, without
 * touching the system's trust store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where Chromium is looked for, after CHROMIUM_PATH: Debian's, then Chrome's usual places. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/snap/bin/chromium',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The Chromium to start: CHROMIUM_PATH when set (and only it), else the first one installed. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.CHROMIUM_PATH) return executable(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : null;
  return CANDIDATES.find(executable) ?? null;
}

/** The flags that make a Chromium an intercepted one (the profile, the proxy, the CA's SPKI). */
export function interceptedChromiumArgs(opts: { proxyPort: number; spki: string; profileDir: string }): string[] {
  return [
    `--user-data-dir=${opts.profileDir}`,
    `--proxy-server=http://127.0.0.1:${opts.proxyPort}`,
    '--proxy-bypass-list=<-loopback>',
    `--ignore-certificate-errors-spki-list=${opts.spki}`,
    '--no-first-run',
    '--no-default-browser-check',
  ];
}

/** What to do without a Chromium: point another browser at the proxy, and trust the CA there. */
export function noChromiumMessage(proxyUrl: string, caPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const looked = env.CHROMIUM_PATH ? `CHROMIUM_PATH (${env.CHROMIUM_PATH}) is not an executable` : 'no Chromium or Chrome was found (install Debian\'s chromium, or set CHROMIUM_PATH)';
  return (
    `Cannot start an intercepted browser: ${looked}. ` +
    `Any browser works by hand: set its HTTP and HTTPS proxy to ${proxyUrl} (in Firefox: Settings, Network Settings, Manual proxy; also clear "No proxy for" of localhost) ` +
    `and trust the CA certificate ${caPath} in that browser only (Firefox: Settings, Certificates, Import), preferably in a profile made for it.`
  );
}

export interface LaunchedBrowser {
  pid: number;
  child: ChildProcess;
  profileDir: string;
  /** Resolves when the browser has exited and its temporary profile is removed. */
  exited: Promise<void>;
}

export class NoChromiumError extends Error {}

export function launchInterceptedChromium(opts: {
  proxyPort: number;
  spki: string;
  url?: string;
  proxyUrl: string;
  caPath: string;
  env?: NodeJS.ProcessEnv;
}): LaunchedBrowser {
  const env = opts.env ?? process.env;
  const chromium = findChromium(env);
  if (!chromium) throw new NoChromiumError(noChromiumMessage(opts.proxyUrl, opts.caPath, env));
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'wsplay-browser-'));
  const args = interceptedChromiumArgs({ proxyPort: opts.proxyPort, spki: opts.spki, profileDir });
  // Chromium refuses to start as root without --no-sandbox (containers, CI machines).
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  // A machine without a display (CI, a test) runs it headless: WSPLAY_BROWSER_HEADLESS=1.
  if (env.WSPLAY_BROWSER_HEADLESS === '1') args.push('--headless=new', '--disable-gpu');
  args.push(opts.url ?? 'about:blank');
  const child = spawn(chromium, args, { stdio: 'ignore', detached: false });
  const exited = new Promise<void>((resolve) => {
    const done = () => {
      rmSync(profileDir, { recursive: true, force: true });
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  return { pid: child.pid ?? -1, child, profileDir, exited };
}
