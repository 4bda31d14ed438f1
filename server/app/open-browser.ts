import { spawn } from 'node:child_process';

/**
 * Open a URL in the desktop's browser, where there is one: never in CI, and on Linux only with
 * a display. Failing to open is not an error: the URL is printed anyway.
 */
export function openBrowser(url: string): void {
  if (process.env.CI || process.env.WSPLAY_NO_OPEN) return;
  let cmd: string;
  let args: string[];
  if (process.platform === 'darwin') [cmd, args] = ['open', [url]];
  else if (process.platform === 'win32') [cmd, args] = ['cmd', ['/c', 'start', '', url]];
  else {
    if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
    [cmd, args] = ['xdg-open', [url]];
  }
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener on this system; the printed URL is enough.
  }
}
