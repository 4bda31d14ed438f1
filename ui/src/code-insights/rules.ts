import type { InsightRule } from '../../../server/capture/events.ts';

/** The rules the Code tab reads client.js and server.js for (analyze.ts). */
export type CodeRule =
  | 'send-before-open'
  | 'fromcharcode-bytes'
  | 'no-error-listener'
  | 'origin-not-checked'
  | 'json-parse-blob'
  | 'object-send'
  | 'broadcast-to-sender';

export interface CodeRuleInfo {
  /** A few words, for the list and the hover's first line. */
  title: string;
  severity: 'error' | 'warning';
  /** The lesson that teaches it, by folder name (the wire rules' lessons: server/insights/rules.ts). */
  lesson: string;
  lessonTitle: string;
  /** The wire rule (server/insights/) whose frames show what this code put on the wire, where one exists. */
  wire?: InsightRule;
  /**
   * Whether it stays in force in the lessons after the one that teaches it. The later lessons'
   * own code is written for their subject, not every earlier one (lesson 14's server has no
   * `error` listener, lesson 11's client parses every message as JSON): there the rule would
   * mark the lesson's own correct code, so it speaks only in its lesson and the free playground.
   */
  later: boolean;
}

export const CODE_RULES: Record<CodeRule, CodeRuleInfo> = {
  'send-before-open': {
    title: 'send before the connection is open',
    severity: 'error',
    lesson: '04-sending-too-early',
    lessonTitle: 'Lesson 04 · Sending too early',
    later: true,
  },
  'fromcharcode-bytes': {
    title: "String.fromCharCode over a message's bytes",
    severity: 'warning',
    lesson: '06-utf8-and-fromcharcode',
    lessonTitle: 'Lesson 06 · UTF-8 and String.fromCharCode(...data)',
    wire: 'utf8-read-as-bytes',
    later: true,
  },
  'json-parse-blob': {
    title: 'JSON.parse of a message that may be a Blob',
    severity: 'warning',
    lesson: '07-text-binary-json',
    lessonTitle: 'Lesson 07 · Text, binary, and JSON messages',
    later: false,
  },
  'object-send': {
    title: 'an object sent without JSON.stringify',
    severity: 'error',
    lesson: '07-text-binary-json',
    lessonTitle: 'Lesson 07 · Text, binary, and JSON messages',
    wire: 'object-payload',
    later: true,
  },
  'broadcast-to-sender': {
    title: 'a broadcast that echoes to the sender',
    severity: 'warning',
    lesson: '08-server-as-go-between',
    lessonTitle: 'Lesson 08 · The server as go-between',
    later: true,
  },
  'no-error-listener': {
    title: "no 'error' listener on the server's sockets",
    severity: 'warning',
    lesson: '12-security',
    lessonTitle: 'Lesson 12 · Security: Origin and maxPayload',
    wire: 'server-crashed-on-frame',
    later: false,
  },
  'origin-not-checked': {
    title: 'Origin not checked',
    severity: 'warning',
    lesson: '12-security',
    lessonTitle: 'Lesson 12 · Security: Origin and maxPayload',
    wire: 'origin-not-checked',
    later: false,
  },
};

const lessonNumber = (id: string): number => Number(/^(\d+)/.exec(id)?.[1] ?? NaN);

/**
 * Whether a rule speaks in a workspace: the free playground (null: the course's code, and the
 * learner's own programs after the course) hears every rule; a lesson hears the rules it teaches
 * and the earlier lessons' rules that its code keeps (`later`). A rule taught later is silent:
 * lesson 3's client still sends too early on purpose, for lesson 4 to mend.
 */
export function ruleInForce(rule: CodeRule, lesson: string | null): boolean {
  if (lesson === null) return true;
  const info = CODE_RULES[rule];
  if (lesson === info.lesson) return true;
  const n = lessonNumber(lesson);
  const taught = lessonNumber(info.lesson);
  if (Number.isNaN(n)) return true;
  return info.later && n > taught;
}
