/** WebSocket messages (client → hub). Every message may carry `id` (a string of at most 64 characters), echoed in the reply. */
export type ClientMessage = { type: 'hello'; id?: string; token: string } | { type: 'ping'; id?: string };

/** WebSocket messages (hub → client). */
export type ServerMessage =
  | { type: 'hello_ok'; id?: string; principal: { type: string; id: string; agent_ids: string[] } }
  | { type: 'pong'; id?: string; ts: string }
  | { type: 'error'; id?: string; error: { code: string; message: string } };

/** The longest `id` the hub accepts and echoes; a longer one is refused, echoing only this many characters. */
export const WS_MAX_ID_CHARS = 64;

/**
 * The close codes the hub's WebSocket uses; clients switch on these. 1002, 1007 and 1009 come
 * from the WebSocket library when a frame breaks the protocol; the others are the hub's.
 */
export const WsCloseCode = {
  /** The hub is shutting down. */
  GoingAway: 1001,
  /** A frame broke the WebSocket protocol (unmasked, reserved opcode or bits, bad framing). */
  ProtocolError: 1002,
  /** A text frame was not valid UTF-8. */
  InvalidPayload: 1007,
  /** Too many refused frames (binary frames, or frames past the rate limit). */
  PolicyViolation: 1008,
  /** A frame (or message) over 64 KiB. */
  MessageTooBig: 1009,
  /** The client does not read its replies: the hub's send buffer for it passed its cap. Reconnect. */
  TryAgainLater: 1013,
  /**
   * Not, or no longer, authenticated: no successful `hello` within the deadline, or the
   * credential stopped being accepted (device revoked or token rotated, agent key revoked,
   * agent disabled, user token revoked or expired).
   */
  Unauthenticated: 4401,
  /** The principal's access changed (a membership ended or changed role): send `hello` again. */
  AccessChanged: 4403,
} as const;
export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];
