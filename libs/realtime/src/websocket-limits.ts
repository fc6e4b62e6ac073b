/**
 * What one WebSocket connection may cost the local hub. The numbers are generous for a satellite
 * (a heartbeat every 15–30 s, events at speaking speed, a burst when it reconnects and replays)
 * and small enough that thousands of hostile connections still fit in memory.
 */
export interface WebSocketLimits {
  /** The largest frame (and message) accepted; a bigger one closes the socket with 1009. */
  maxFrameBytes: number;
  /** Frames a connection may send in a burst (the token bucket's capacity). */
  burstFrames: number;
  /** Frames per second a connection may sustain (the bucket's refill rate). */
  framesPerSecond: number;
  /** Refused frames (binary, or past the rate) after which the socket is closed with 1008. */
  maxRefusedFrames: number;
  /**
   * Bytes the hub may hold queued for a client that does not read; past it the socket is closed
   * with 1013 (a client reconnects and resumes; nothing is lost that it had not read anyway).
   */
  maxSendBufferBytes: number;
  /** Milliseconds from the upgrade to a successful `hello`; then the socket is closed with 4401. */
  helloTimeoutMs: number;
  /** How often every live connection's principal is re-checked (a backstop to revocation notices). */
  revalidateEveryMs: number;
  /** Open connections the hub holds at once; a further upgrade is answered 503 `unavailable`. */
  maxConnections: number;
  /**
   * Authenticated connections one principal may hold at once; a hello past it is answered
   * `rate_limited` and the socket closed with 4429.
   */
  maxConnectionsPerPrincipal: number;
  /**
   * Stream delivery (WebSocket and SSE): while more than this many bytes wait unsent in a
   * connection's socket, its stream messages wait in the connection's queue instead, coalesced.
   */
  deliveryBufferBytes: number;
  /** Stream messages a connection's queue holds; past it the subscription stops with `resync_required`. */
  maxQueuedMessages: number;
  /** Bytes of stream messages a connection's queue holds; past it the subscription stops likewise. */
  maxQueuedBytes: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: Readonly<WebSocketLimits> = {
  // The protocol's messages are small JSON objects; a transcript chunk is far below this.
  maxFrameBytes: 64 * 1024,
  // A reconnecting satellite replays what it buffered; 100 frames covers minutes of speech.
  burstFrames: 100,
  // Twenty frames a second is ten times a fast talker's chunk rate; pings need far less.
  framesPerSecond: 20,
  // An honest client never sends one; ten leave room for a client bug reported in the logs.
  maxRefusedFrames: 10,
  // Replies are small; 1 MiB is thousands of them, and it bounds a non-reading client's cost.
  maxSendBufferBytes: 1024 * 1024,
  // Enough for a slow network and a token fetch; an unauthenticated socket costs no longer.
  helloTimeoutMs: 10_000,
  // Revocations are announced at once; this only catches changes made by another process.
  revalidateEveryMs: 30_000,
  // A personal hub has tens of satellites. An open connection costs about 13 KiB of the hub's
  // memory (`npm run bench:ws-connections`), so this many stay near 50 MiB however a client opens
  // them (unauthenticated ones last 10 s).
  maxConnections: 4096,
  // A satellite needs one connection, a console a few tabs; 16 leaves room for reconnects that
  // overlap a dying socket, and keeps one leaked credential from taking the hub's whole budget.
  maxConnectionsPerPrincipal: 16,
  // A few dozen typical messages in flight keep a reading client's pipe full.
  deliveryBufferBytes: 64 * 1024,
  // Coalescing keeps one message per action or presence subject; 256 others is minutes of a
  // busy agent, and with the byte cap bounds a stalled client's cost at 256 KiB plus its buffer.
  maxQueuedMessages: 256,
  maxQueuedBytes: 256 * 1024,
};

/** WebSocketLimits for the local server; tests inject smaller ones. */
export const WEBSOCKET_LIMITS = Symbol('WEBSOCKET_LIMITS');

/** A token bucket: `capacity` tokens, refilled at `perSecond`; `take` is false when it is empty. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) {
      return false;
    }
    this.tokens -= 1;
    return true;
  }
}
