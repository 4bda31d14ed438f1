/**
 * A protocol's known words (STOMP's commands, GraphQL's message types) as bytes by length: a
 * relay pass matches a word in a message's bytes and gets the one shared string for it, without
 * decoding (and keeping) a string per message.
 */
export type KnownWords = Array<Array<[Uint8Array, string]>>;

export function knownWords(words: Iterable<string>): KnownWords {
  const table: KnownWords = [];
  for (const w of words) (table[w.length] ??= []).push([Buffer.from(w, 'latin1'), w]);
  return table;
}

/** The known word b[start, end) spells, or undefined. */
export function knownWord(table: KnownWords, b: Uint8Array, start: number, end: number): string | undefined {
  const known = table[end - start];
  if (known === undefined) return undefined;
  for (let k = 0; k < known.length; k++) {
    const [bytes, word] = known[k]!;
    let i = 0;
    while (i < bytes.length && b[start + i] === bytes[i]) i++;
    if (i === bytes.length) return word;
  }
  return undefined;
}
