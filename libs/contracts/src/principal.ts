import type { PrincipalType } from './domain';
import type { ScopeGrant } from './scopes';

/** Who is calling, resolved once per request (REST) or per connection (WebSocket hello). */
export interface Principal {
  type: PrincipalType;
  id: string;
  /** Agents this principal may act for, with the scopes it holds on each. */
  agents: ReadonlyArray<{ agent_id: string; scopes: readonly ScopeGrant[] }>;
}

export function scopesFor(principal: Principal, agentId: string): readonly ScopeGrant[] {
  return principal.agents.find((a) => a.agent_id === agentId)?.scopes ?? [];
}
