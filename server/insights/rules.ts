import type { InsightRule } from '../capture/events.ts';

export interface InsightRuleInfo {
  /** A few words for the list under the header and the marks' tooltips. */
  title: string;
  /** One or two words for the Timeline's badge, whose column is narrow at 1024 px. */
  short: string;
  /** The lesson that teaches it, by folder name. */
  lesson: string;
  /** The lesson's title, for the link ("Lesson 07 · Text, binary, and JSON messages"). */
  lessonTitle: string;
}

/**
 * Every rule of the insight engine (server/insights/engine.ts) and the lesson that teaches it.
 * Shared with the dashboard (no Node imports here).
 */
export const INSIGHT_RULES: Record<InsightRule, InsightRuleInfo> = {
  'object-payload': { title: 'An object sent as text', short: 'object', lesson: '07-text-binary-json', lessonTitle: 'Lesson 07 · Text, binary, and JSON messages' },
  'utf8-read-as-bytes': { title: 'UTF-8 read byte by byte', short: 'UTF-8', lesson: '06-utf8-and-fromcharcode', lessonTitle: 'Lesson 06 · UTF-8 and String.fromCharCode(...data)' },
  'token-in-url': { title: 'A credential in the URL', short: 'token', lesson: '12-security', lessonTitle: 'Lesson 12 · Security: Origin and maxPayload' },
  'origin-not-checked': { title: 'Origin not checked', short: 'Origin', lesson: '12-security', lessonTitle: 'Lesson 12 · Security: Origin and maxPayload' },
  'server-crashed-on-frame': { title: 'The server crashed on a frame', short: 'crash', lesson: '12-security', lessonTitle: 'Lesson 12 · Security: Origin and maxPayload' },
  'reconnect-storm': { title: 'A reconnect storm', short: 'storm', lesson: '09-closing', lessonTitle: 'Lesson 09 · Closing, and coming back' },
  'close-code-misused': { title: 'A close code misused', short: 'close code', lesson: '09-closing', lessonTitle: 'Lesson 09 · Closing, and coming back' },
  'no-pong': { title: 'Pings left unanswered', short: 'no pong', lesson: '10-heartbeats', lessonTitle: 'Lesson 10 · Heartbeats' },
  'idle-cut': { title: 'Cut after a silence', short: 'idle cut', lesson: '10-heartbeats', lessonTitle: 'Lesson 10 · Heartbeats' },
};
