/** The daemon's log: one line per thing it does, to stderr; frames too with `verbose`. */
export class SatelliteLog {
  constructor(
    private readonly write: (text: string) => void,
    public verbose = false,
  ) {}

  info(message: string): void {
    this.write(`${new Date().toISOString()} ${message}\n`);
  }

  /** A frame sent (`>`) or received (`<`), with any token masked; only with `verbose`. */
  frame(direction: '>' | '<', frame: unknown): void {
    if (this.verbose) {
      this.info(`${direction} ${JSON.stringify(frame, (key, value: unknown) => (key === 'token' ? '***' : value))}`);
    }
  }
}
