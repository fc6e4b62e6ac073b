/**
 * Splits a byte stream into UTF-8 lines, holding at most `maxBytes` of an unfinished line: a longer
 * line is refused (reported once, with how much was seen) and skipped up to its newline.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline < 0 ? chunk.length : newline);
      if (!this.skipping) {
        if (this.pendingBytes + piece.length > this.maxBytes) {
          this.onTooLong(this.pendingBytes + piece.length);
          this.pending = [];
          this.pendingBytes = 0;
          this.skipping = true;
        } else if (piece.length > 0) {
          this.pending.push(Buffer.from(piece));
          this.pendingBytes += piece.length;
        }
      }
      if (newline < 0) {
        return;
      }
      if (this.skipping) {
        this.skipping = false;
      } else {
        this.emit();
      }
      start = newline + 1;
    }
  }

  /** The input ended: a last line without a newline still counts. */
  end(): void {
    if (!this.skipping && this.pendingBytes > 0) {
      this.emit();
    }
    this.skipping = false;
  }

  private emit(): void {
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.onLine(line);
  }
}
