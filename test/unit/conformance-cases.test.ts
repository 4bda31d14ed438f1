/**
 * The ladder's case list and its selection syntax, without sockets: Autobahn's numbering, and
 * group 6's UTF-8 vectors checked against two validators that share no code with the cases.
 */
import { describe, expect, it } from 'vitest';
import { CASES, caseById } from '../../server/conformance/cases.ts';
import { selectCases, SelectionError } from '../../server/conformance/select.ts';
import { Utf8Validator } from '../../server/protocol/utf8.ts';

const ids = (spec?: string): string[] => selectCases(spec).map((c) => c.id);

describe('the case list', () => {
  it('numbers the cases as Autobahn does, one id each, in ladder order', () => {
    const all = CASES.map((c) => c.id);
    expect(new Set(all).size).toBe(all.length);
    expect([...new Set(CASES.map((c) => c.group))]).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 12, 13]);
    // Autobahn's counts per group (9 is ours: the same 54 cases, sized down).
    const count = (g: number): number => CASES.filter((c) => c.group === g).length;
    expect([1, 2, 3, 4, 5, 6, 7, 9, 12, 13].map(count)).toEqual([16, 11, 7, 10, 20, 145, 37, 54, 90, 126]);
    expect(all.slice(0, 3)).toEqual(['1.1.1', '1.1.2', '1.1.3']);
    expect(all.indexOf('6.4.1')).toBeLessThan(all.indexOf('6.10.1'));
  });

  it('gives every case what the ladder view shows: description, expectation, the RFC\'s sentence and a hint', () => {
    for (const c of CASES) {
      expect(c.description, c.id).not.toBe('');
      expect(c.expectation, c.id).not.toBe('');
      expect(c.rfc.section, c.id).toMatch(/^RFC (6455|7692) §/);
      expect(c.rfc.must.length, c.id).toBeGreaterThan(40);
      expect(c.hint.length, c.id).toBeGreaterThan(20);
    }
  });

  it('holds no script in CASES (the dashboard imports it), but each case has one to run', () => {
    expect(CASES.every((c) => !('script' in c))).toBe(true);
    expect(typeof caseById('6.4.1')!.script).toBe('function');
  });

  it('expects 1007 exactly for the group 6 payloads that are not UTF-8, by two validators', () => {
    let checked = 0;
    for (const c of CASES.filter((x) => x.group === 6 && Number(x.id.split('.')[1]) >= 5)) {
      const hex = /: ([0-9a-f ]+)\.$/.exec(c.description)![1]!;
      const bytes = Buffer.from(hex.replace(/ /g, ''), 'hex');
      const ours = new Utf8Validator();
      const validOurs = ours.push(bytes) && ours.finish();
      let validWhatwg = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        validWhatwg = false;
      }
      expect(validOurs, c.id).toBe(validWhatwg);
      expect(/1007/.test(c.expectation), c.id).toBe(!validOurs);
      checked++;
    }
    expect(checked).toBe(132);
  });
});

describe('selectCases', () => {
  it('reads Autobahn-style lists: group ranges, a group, a sub-group, one case, an id range', () => {
    expect(new Set(selectCases('1-7').map((c) => c.group))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
    expect(ids('5.*')).toEqual(ids('5'));
    expect(ids('5').length).toBe(20);
    expect(ids('6.4')).toEqual(['6.4.1', '6.4.2', '6.4.3', '6.4.4']);
    expect(ids('6.4.1')).toEqual(['6.4.1']);
    expect(ids('9.1.1-9.1.3')).toEqual(['9.1.1', '9.1.2', '9.1.3']);
    expect(ids('7.9.1, 2.1')).toEqual(['2.1', '7.9.1']);
    expect(ids()).toEqual(CASES.map((c) => c.id));
  });

  it('does not take 6.4 for 6.40 or 1 for 12', () => {
    expect(ids('1').every((id) => id.startsWith('1.'))).toBe(true);
    expect(ids('6.1')).toEqual(['6.1.1', '6.1.2', '6.1.3']);
  });

  it('refuses what it cannot read and what matches nothing, saying how to write it', () => {
    expect(() => selectCases('8')).toThrow(SelectionError);
    expect(() => selectCases('8')).toThrow(/No case matches "8": the groups are 1, 2, 3, 4, 5, 6, 7, 9, 12, 13/);
    expect(() => selectCases('six')).toThrow(/write ids and ranges as Autobahn does, e\.g\. 1-7, 5\.\*/);
  });
});
