/** Counts for people: "1 frame", "2 frames", "1,024 frames". */

const NUM = new Intl.NumberFormat('en-US');

/** The number and the noun, singular for exactly one: `plural(1, 'frame')` is "1 frame". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${NUM.format(n)} ${n === 1 ? one : many}`;
}
