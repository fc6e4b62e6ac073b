import { MESSAGE_WAIT_MS } from './hub-socket';

/** One Server-Sent Event as the client parsed it. */
export interface SseEvent {
  id: string | null;
  event: string | null;
  /** The `data:` lines joined by newlines. */
  data: string;
  /** `data` parsed as JSON, or undefined when it is not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- specs read events field by field
  json: any;
}

/**
 * A Server-Sent Events client over fetch: opens the stream, parses every event (and counts
 * keep-alive comments) as it arrives, and lets a spec wait for events without sleeping.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly status: number,
    readonly contentType: string | null,
    private readonly abort: AbortController,
  ) {}

  /**
   * GETs `url`. A non-200 answer resolves with `status` and the body's JSON (the error); a 200
   * resolves with the client reading the stream in the background.
   */
  static async open(
    base: string,
    url: string,
    token: string | null,
    headers: Record<string, string> = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the error body, read field by field
  ): Promise<{ status: number; json?: any; client?: SseClient }> {
    const abort = new AbortController();
    const response = await fetch(`${base}${url}`, {
      headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      signal: abort.signal,
    });
    if (response.status !== 200) {
      const text = await response.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = { text };
      }
      return { status: response.status, json };
    }
    const client = new SseClient(response.status, response.headers.get('content-type'), abort);
    void client.read(response.body as ReadableStream<Uint8Array>);
    return { status: 200, client };
  }

  /** Waits until `count` events match `test`; resolves with them in order. */
  async nextMany(test: (event: SseEvent) => boolean, count: number, timeoutMs = MESSAGE_WAIT_MS): Promise<SseEvent[]> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${count} SSE events; got ${this.events.filter(test).length}: ${JSON.stringify(this.events.slice(-5)).slice(0, 1500)}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        if (this.events.filter(test).length >= count) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`the SSE stream ended before ${count} events; got ${JSON.stringify(this.events)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
    return this.events.filter(test);
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      // aborted by close(), or the hub ended the stream
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private parse(block: string): void {
    let id: string | null = null;
    let event: string | null = null;
    const data: string[] = [];
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments += 1;
        continue;
      }
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields += 1;
      if (name === 'id') {
        id = value;
      } else if (name === 'event') {
        event = value;
      } else if (name === 'data') {
        data.push(value);
      }
    }
    if (fields === 0 || data.length === 0) {
      return;
    }
    const text = data.join('\n');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    this.events.push({ id, event, data: text, json });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      waiter();
    }
  }
}
