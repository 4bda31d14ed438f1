/**
 * Sans-I/O reader of an HTTP/1.1 chunked body (RFC 9112 §7.1), so a refusal sent with
 * `Transfer-Encoding: chunked` (a custom server's 426 or 403) is complete when its last chunk
 * arrives, not when the connection closes. Bounded: a size or trailer line over 1 KiB ends
 * the body as malformed.
 */
const enum State {
  Size,
  Data,
  DataEnd,
  Trailer,
  Done,
}

const MAX_LINE = 1024;

export class ChunkedReader {
  private state = State.Size;
  private line = '';
  private left = 0;
  /** Set when the body could not be read as chunks (it is then treated as ended). */
  malformed = false;

  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Read from `data`; returns how many bytes belong to the body (the rest is the next response)
   * and calls `onData` with each piece of chunk data.
   */
  push(data: Buffer, onData: (piece: Buffer) => void): number {
    let i = 0;
    while (i < data.length && this.state !== State.Done) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.left, data.length - i);
          onData(data.subarray(i, i + take));
          i += take;
          this.left -= take;
          if (this.left === 0) this.state = State.DataEnd;
          break;
        }
        case State.DataEnd:
        case State.Size:
        case State.Trailer: {
          const b = data[i++]!;
          if (b !== 0x0a) {
            if (b !== 0x0d) this.line += String.fromCharCode(b);
            if (this.line.length > MAX_LINE) this.finish(true);
            break;
          }
          const line = this.line.trim();
          this.line = '';
          if (this.state === State.DataEnd) {
            this.state = State.Size;
          } else if (this.state === State.Size) {
            const size = parseInt(line.split(';')[0]!, 16);
            if (!Number.isFinite(size) || size < 0 || !/^[0-9a-f]+$/i.test(line.split(';')[0]!.trim())) this.finish(true);
            else if (size === 0) this.state = State.Trailer;
            else {
              this.left = size;
              this.state = State.Data;
            }
          } else if (line === '') {
            this.finish(false);
          }
          break;
        }
      }
    }
    return i;
  }

  private finish(malformed: boolean): void {
    this.malformed = malformed;
    this.state = State.Done;
  }
}
