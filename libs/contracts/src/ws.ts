/** WebSocket messages (client → hub). Every message may carry `id`, echoed in the reply. */
export type ClientMessage =
  | { type: 'hello'; id?: string; token: string }
  | { type: 'ping'; id?: string };

/** WebSocket messages (hub → client). */
export type ServerMessage =
  | { type: 'hello_ok'; id?: string; principal: { type: string; id: string; agent_ids: string[] } }
  | { type: 'pong'; id?: string; ts: string }
  | { type: 'error'; id?: string; error: { code: string; message: string } };
