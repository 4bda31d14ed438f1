/**
 * The notes an export prints (one sentence each). A recording of 300,000 connections that all
 * lack the same thing gives a few sentences and a count, not 300,000 lines: every note is
 * counted, the first KEPT_NOTES of each kind are kept, and one line per kind says how many more.
 */
export const KEPT_NOTES = 5;

export class ExportNotes {
  private readonly kept: string[] = [];
  private readonly counts = new Map<string, { n: number; more: (n: number) => string }>();

  /**
   * `kind` groups alike notes; `more(n)` says what the `n` left out are (`12 more connections
   * lack their open event`).
   */
  add(kind: string, text: string, more: (n: number) => string): void {
    const c = this.counts.get(kind) ?? { n: 0, more };
    c.n++;
    this.counts.set(kind, c);
    if (c.n <= KEPT_NOTES) this.kept.push(text);
  }

  list(): string[] {
    const out = [...this.kept];
    for (const { n, more } of this.counts.values()) if (n > KEPT_NOTES) out.push(more(n - KEPT_NOTES));
    return out;
  }
}
