import type { Page } from 'playwright-core';

/**
 * How many rows the Timeline's control bar takes, as a person sees it: its visible items (the
 * Filters panel, which floats over the rows, left out) grouped into lines, an item starting a new
 * line when it sits below the bottom of the line before. Items of one row differ in height
 * (selects, buttons, the count), so their tops alone would not do.
 */
export function timelineBarRows(page: Page): Promise<{ rows: number; height: number; width: number; items: string[] }> {
  return page.evaluate(() => {
    const bar = document.querySelector<HTMLElement>('.timeline .filters')!;
    const boxes = [...bar.children]
      .filter((el) => !el.classList.contains('tl-more'))
      .map((el) => ({ el: el as HTMLElement, r: el.getBoundingClientRect() }))
      .filter((b) => b.r.width > 0 && b.r.height > 0)
      .sort((a, b) => a.r.top - b.r.top);
    let rows = 0;
    let bottom = -Infinity;
    for (const b of boxes) {
      if (b.r.top >= bottom - 1) {
        rows++;
        bottom = b.r.bottom;
      } else bottom = Math.max(bottom, b.r.bottom);
    }
    const items = boxes.map((b) => `${(b.el.getAttribute('aria-label') ?? b.el.innerText ?? b.el.tagName).trim().replace(/\s+/g, ' ')} (${Math.round(b.r.width)} px)`);
    return { rows, height: Math.round(bar.getBoundingClientRect().height), width: bar.clientWidth, items };
  });
}
