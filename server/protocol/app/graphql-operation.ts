/**
 * The kind and name of a GraphQL document's operation (`subscription OnMessage { ... }`), read
 * with a small tokenizer instead of a full parser: the wiretap only needs the first words of an
 * operation definition, and a query is text a peer wrote, so the scan is bounded in characters
 * and never backtracks (no regular expression runs over the query).
 *
 * Grammar followed (GraphQL spec, October 2021, §2.2 Document, §2.3 Operations, §2.1 Source
 * Text): ignored tokens are white space, line terminators, commas, the byte order mark and `#`
 * comments; an executable document is a list of operation and fragment definitions; a lone
 * selection set `{ ... }` is the query shorthand (an anonymous query).
 */

export type OperationKind = 'query' | 'mutation' | 'subscription';

export interface OperationInfo {
  kind: OperationKind;
  /** Null for an anonymous operation. */
  name: string | null;
}

/** Characters of a query the scan reads at most; past them the operation is unknown (null). */
export const MAX_QUERY_SCAN = 64 * 1024;

/**
 * The operation a request runs: the one named `wanted` when given (the request's
 * `operationName`), else the document's first operation. Null when the document has none in
 * its first MAX_QUERY_SCAN characters or is not a document the scan can follow.
 */
export function findOperation(query: string, wanted?: string | null): OperationInfo | null {
  const s = new Scanner(query);
  for (;;) {
    s.skipIgnored();
    if (s.done()) return null;
    const c = s.peek();
    if (c === '{') {
      // The query shorthand: an anonymous query, and then the document's only operation.
      if (wanted == null) return { kind: 'query', name: null };
      if (!s.skipBlock()) return null;
      continue;
    }
    const word = s.name();
    if (word === null) return null;
    if (word === 'query' || word === 'mutation' || word === 'subscription') {
      s.skipIgnored();
      const name = s.name();
      if (wanted == null || wanted === name) return { kind: word, name };
      if (!s.skipBlock()) return null;
      continue;
    }
    if (word === 'fragment') {
      if (!s.skipBlock()) return null;
      continue;
    }
    // A type system definition or something else: not an executable document this scan follows.
    return null;
  }
}

class Scanner {
  private i = 0;
  private readonly end: number;

  constructor(private readonly src: string) {
    this.end = Math.min(src.length, MAX_QUERY_SCAN);
  }

  done(): boolean {
    return this.i >= this.end;
  }

  peek(): string {
    return this.src[this.i]!;
  }

  /** White space, line terminators, commas, the BOM and comments (§2.1.2 to §2.1.5). */
  skipIgnored(): void {
    while (this.i < this.end) {
      const c = this.src.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x2c || c === 0xfeff) {
        this.i++;
      } else if (c === 0x23) {
        while (this.i < this.end && this.src.charCodeAt(this.i) !== 0x0a && this.src.charCodeAt(this.i) !== 0x0d) this.i++;
      } else {
        return;
      }
    }
  }

  /** A Name (§2.1.9): /[_A-Za-z][_0-9A-Za-z]*\/, or null when none starts here. */
  name(): string | null {
    const start = this.i;
    if (this.i < this.end && isNameStart(this.src.charCodeAt(this.i))) {
      this.i++;
      while (this.i < this.end && isNameContinue(this.src.charCodeAt(this.i))) this.i++;
    }
    // Nothing here, or a name cut by the scan bound (it may go on past it).
    if (this.i === start || (this.i === this.end && this.i < this.src.length && isNameContinue(this.src.charCodeAt(this.i)))) return null;
    return this.src.slice(start, this.i);
  }

  /**
   * The rest of a definition: everything up to its selection set's first `{` outside the
   * variable definitions' parentheses (default values may hold `{`), then the selection set
   * with its nested braces, strings and comments. False when the scan bound or the text's end
   * comes first.
   */
  skipBlock(): boolean {
    let parens = 0;
    let braces = 0;
    while (this.i < this.end) {
      const c = this.src.charCodeAt(this.i);
      if (c === 0x23) {
        this.skipIgnored();
        continue;
      }
      if (c === 0x22) {
        if (!this.skipString()) return false;
        continue;
      }
      this.i++;
      if (c === 0x28) parens++;
      else if (c === 0x29) parens = Math.max(0, parens - 1);
      else if (c === 0x7b) braces++;
      else if (c === 0x7d) {
        braces--;
        if (braces < 0) return false;
        if (braces === 0 && parens === 0) return true;
      }
    }
    return false;
  }

  /** A string or block string (§2.9.4) starting at a `"`. */
  private skipString(): boolean {
    const src = this.src;
    if (src.startsWith('"""', this.i)) {
      this.i += 3;
      while (this.i < this.end) {
        if (src.charCodeAt(this.i) === 0x5c && src.startsWith('\\"""', this.i)) this.i += 4;
        else if (src.startsWith('"""', this.i)) {
          this.i += 3;
          return true;
        } else this.i++;
      }
      return false;
    }
    this.i++;
    while (this.i < this.end) {
      const c = src.charCodeAt(this.i);
      if (c === 0x5c) this.i += 2;
      else if (c === 0x22) {
        this.i++;
        return true;
      } else if (c === 0x0a || c === 0x0d) return false;
      else this.i++;
    }
    return false;
  }
}

function isNameStart(c: number): boolean {
  return c === 0x5f || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isNameContinue(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39);
}
