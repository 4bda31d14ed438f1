/**
 * The lesson pane's Markdown (ui/src/lessons.ts): every lesson's text parses into blocks whose
 * code buttons load exactly the code the check harness and the integrity test read from the
 * same lesson.md (lessons/harness/format.ts), and nothing in a lesson becomes HTML or a
 * script link.
 */
import { describe, expect, it } from 'vitest';
import { listLessons, readLesson } from '../../lessons/harness/format.ts';
import { parseInline, parseMarkdown, type Block, type Inline } from '../../ui/src/lessons.ts';

const text = (parts: Inline[]): string =>
  parts.map((p) => (p.t === 'text' || p.t === 'code' ? p.text : text(p.children))).join('');

describe("the lesson pane's Markdown", () => {
  for (const lesson of listLessons()) {
    it(`gives lesson ${lesson.slug}'s code buttons the code format.ts reads, file by file`, () => {
      let parsed: ReturnType<typeof readLesson>;
      try {
        parsed = readLesson(lesson.dir);
      } catch {
        return; // A lesson still being written has no lesson.md yet: the integrity test says so.
      }
      for (const step of parsed.steps) {
        const fromPane = parseMarkdown(step.body)
          .filter((b): b is Extract<Block, { t: 'code' }> => b.t === 'code' && b.file !== null)
          .map((b) => ({ file: b.file, code: b.code, attrs: b.attrs }));
        const fromHarness = step.blocks.filter((b) => b.file !== null).map((b) => ({ file: b.file, code: b.code, attrs: b.attrs }));
        expect(fromPane, `step ${step.n}`).toEqual(fromHarness);
      }
    });
  }

  it('keeps HTML as text', () => {
    const blocks = parseMarkdown('Hello <img src=x onerror=alert(1)> and <script>alert(1)</script>');
    expect(blocks).toEqual([{ t: 'para', inline: [{ t: 'text', text: 'Hello <img src=x onerror=alert(1)> and <script>alert(1)</script>' }] }]);
  });

  it('makes web links links, and any other scheme plain text', () => {
    expect(parseInline('see [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455)')).toEqual([
      { t: 'text', text: 'see ' },
      { t: 'link', href: 'https://www.rfc-editor.org/rfc/rfc6455', children: [{ t: 'text', text: 'RFC 6455' }] },
    ]);
    expect(parseInline('[click](javascript:alert(1))').some((p) => p.t === 'link')).toBe(false);
    expect(parseInline('[click](data:text/html,hi)').some((p) => p.t === 'link')).toBe(false);
  });

  it('reads inline code, strong and emphasis, a table, a list going on over lines, and an indented block', () => {
    const md = [
      'Press **Check** (or run `npm run check -- 04`), *then* look.',
      '',
      '| value | name |',
      '|-------|------|',
      '| 0     | `CONNECTING` |',
      '',
      '- `GET / HTTP/1.1`: a plain request,',
      '  to the path in the URL.',
      '- `Upgrade: websocket`',
      '',
      '    InvalidStateError: Still in CONNECTING state.',
    ].join('\n');
    const [para, table, list, code] = parseMarkdown(md);
    expect(para).toEqual({
      t: 'para',
      inline: [
        { t: 'text', text: 'Press ' },
        { t: 'strong', children: [{ t: 'text', text: 'Check' }] },
        { t: 'text', text: ' (or run ' },
        { t: 'code', text: 'npm run check -- 04' },
        { t: 'text', text: '), ' },
        { t: 'em', children: [{ t: 'text', text: 'then' }] },
        { t: 'text', text: ' look.' },
      ],
    });
    expect(table).toMatchObject({ t: 'table' });
    if (table?.t !== 'table') throw new Error('not a table');
    expect(table.head.map(text)).toEqual(['value', 'name']);
    expect(table.rows.map((r) => r.map(text))).toEqual([['0', 'CONNECTING']]);
    if (list?.t !== 'list') throw new Error('not a list');
    expect(list.items.map(text)).toEqual(['GET / HTTP/1.1: a plain request, to the path in the URL.', 'Upgrade: websocket']);
    expect(code).toEqual({ t: 'code', lang: '', file: null, attrs: {}, code: 'InvalidStateError: Still in CONNECTING state.\n' });
  });
});
