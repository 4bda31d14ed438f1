/**
 * Driving the dashboard's Monaco editor from a test the way a person does: click into the
 * text, then type a line key by key, or select all and paste a whole file. Reading goes through
 * what is on screen (the rendered lines, the line numbers in the margin, the error squiggles,
 * the hover), never through Monaco's API: the page exposes none, and a test that reads the
 * model would not see what the learner sees.
 *
 * The files of the playground are short, so every line is rendered (Monaco only renders the
 * lines in view).
 */
import type { Locator, Page } from 'playwright-core';

/** The editor widget of the page (there is one). */
export function monacoEditor(page: Page): Locator {
  return page.locator('.editor-view .monaco-editor').first();
}

/** Resolve when `check` returns true (polled); fail after `timeoutMs` with `what()`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: () => string | Promise<string>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${await what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The text the editor shows, line by line in order (Monaco's non-breaking spaces as spaces). */
export async function editorLines(page: Page): Promise<string[]> {
  return monacoEditor(page)
    .locator('.view-lines')
    .evaluate((root) =>
      Array.from(root.querySelectorAll<HTMLElement>('.view-line'))
        .map((el) => ({ top: parseFloat(el.style.top || '0'), text: (el.textContent ?? '').replace(/\u00a0/g, ' ') }))
        .sort((a, b) => a.top - b.top)
        .map((l) => l.text),
    );
}

export async function editorText(page: Page): Promise<string> {
  return (await editorLines(page)).join('\n');
}

/** Wait until the editor shows `text` somewhere. */
export async function waitForEditorText(page: Page, text: string, timeoutMs = 15_000): Promise<void> {
  let seen = '';
  await eventually(
    async () => {
      seen = await editorText(page).catch(() => '');
      return seen.includes(text);
    },
    () => `the editor to show ${JSON.stringify(text)}; it shows ${JSON.stringify(seen)}`,
    timeoutMs,
  );
}

/**
 * Replace the whole text of the shown file as a person does: click into it, select all, paste
 * the new text (Ctrl/Cmd+V from the clipboard). A paste keeps the text as it is; typed or
 * inserted text would get Monaco's auto-indent on every new line. The page's context needs the
 * clipboard permissions (`context.grantPermissions(['clipboard-read', 'clipboard-write'])`).
 */
export async function pasteIntoEditor(page: Page, text: string): Promise<void> {
  const editor = monacoEditor(page);
  await editor.locator('.view-lines').click();
  await page.locator('.editor-view .monaco-editor.focused').waitFor();
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('ControlOrMeta+V');
}

/**
 * Replace line `n` by typing `text` key by key (one line): click at the end of the line,
 * select back to its start, type. Monaco's auto-closed brackets and quotes are typed over as
 * a person would, so the line ends up as `text`.
 */
export async function typeOverLine(page: Page, n: number, text: string): Promise<void> {
  if (text.includes('\n')) throw new Error('typeOverLine types one line');
  const band = await lineBand(page, n);
  if (!band) throw new Error(`line ${n} is not shown in the editor`);
  // Just right of the line's last character: the cursor lands at its end.
  const texts = await monacoEditor(page)
    .locator('.view-line > span')
    .evaluateAll((els) => els.map((el) => el.getBoundingClientRect()).map((r) => ({ right: r.right, mid: r.top + r.height / 2 })));
  const line = texts.find((t) => t.mid >= band.top && t.mid <= band.bottom);
  if (!line) throw new Error(`line ${n} has no text to click`);
  await page.mouse.click(line.right + 4, (band.top + band.bottom) / 2);
  // Typed keys must go to the editor, never to the dashboard's one-key shortcuts.
  await page.locator('.editor-view .monaco-editor.focused').waitFor();
  await page.keyboard.press('Shift+Home');
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Escape'); // close a suggestion list, if one is open
}

/** The vertical band (page coordinates) of line `n` as the margin's line number shows it. */
async function lineBand(page: Page, n: number): Promise<{ top: number; bottom: number } | null> {
  const number = monacoEditor(page).locator('.margin .line-numbers').filter({ hasText: new RegExp(`^\\s*${n}\\s*$`) });
  if ((await number.count()) !== 1) return null;
  const box = await number.boundingBox();
  return box ? { top: box.y, bottom: box.y + box.height } : null;
}

/** The numbers of the lines that show an error squiggle (Monaco's red wavy underline). */
export async function linesWithErrorSquiggle(page: Page): Promise<number[]> {
  const editor = monacoEditor(page);
  const squiggles = await editor.locator('.squiggly-error').evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { mid: r.top + r.height / 2, width: r.width };
    }),
  );
  const lines: number[] = [];
  const count = await editor.locator('.margin .line-numbers').count();
  for (let n = 1; n <= count; n++) {
    const band = await lineBand(page, n);
    if (band && squiggles.some((s) => s.width > 0 && s.mid >= band.top && s.mid <= band.bottom)) lines.push(n);
  }
  return lines;
}

/** Wait until line `n` shows an error squiggle. */
export async function waitForErrorSquiggle(page: Page, n: number, timeoutMs = 10_000): Promise<void> {
  let seen: number[] = [];
  await eventually(
    async () => {
      seen = await linesWithErrorSquiggle(page).catch(() => []);
      return seen.includes(n);
    },
    () => `an error squiggle on line ${n}; lines with one: ${JSON.stringify(seen)}`,
    timeoutMs,
  );
}

/**
 * Hover the error squiggle on line `n` and return the text of the hover Monaco shows for it
 * (the marker's message). The mouse is moved away afterwards.
 */
export async function hoverErrorOnLine(page: Page, n: number, expect: RegExp, timeoutMs = 10_000): Promise<string> {
  const editor = monacoEditor(page);
  const band = await lineBand(page, n);
  if (!band) throw new Error(`line ${n} is not shown in the editor`);
  let text = '';
  await eventually(
    async () => {
      const boxes = await editor.locator('.squiggly-error').evaluateAll((els) =>
        els.map((el) => {
          const r = el.getBoundingClientRect();
          return { x: r.left, y: r.top, w: r.width, h: r.height };
        }),
      );
      const box = boxes.find((b) => b.w > 0 && b.y + b.h / 2 >= band.top && b.y + b.h / 2 <= band.bottom);
      if (!box) return false;
      // Move off and back on: Monaco shows its hover after the mouse rests on the text.
      await page.mouse.move(box.x + box.w / 2, band.top - 40);
      await page.mouse.move(box.x + Math.min(box.w / 2, 20), box.y + box.h / 2, { steps: 2 });
      const hover = page.locator('.monaco-hover:not(.hidden) .hover-contents, .monaco-hover:not(.hidden) .marker.hover-contents').first();
      try {
        await hover.waitFor({ state: 'visible', timeout: 2500 });
      } catch {
        return false;
      }
      text = (await page.locator('.monaco-hover:not(.hidden)').first().innerText()).trim();
      return expect.test(text);
    },
    () => `a hover on line ${n} matching ${expect}; last hover text: ${JSON.stringify(text)}`,
    timeoutMs,
  );
  await page.mouse.move(2, 2);
  return text;
}
