import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode, hasScope, scopesFor, type Principal, type Scope } from '@marvain/contracts';

export const REQUIRED_SCOPE_KEY = 'marvain:required-scope';
export const PUBLIC_ROUTE_KEY = 'marvain:public-route';

/** The scope a route needs. Every route declares one, or is explicitly @Public(). */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPE_KEY, scope);

export const AUTHENTICATED_ROUTE_KEY = 'marvain:authenticated-route';

/** A route any authenticated principal may call, whatever its scopes (who am I). */
export const Authenticated = (): MethodDecorator & ClassDecorator => SetMetadata(AUTHENTICATED_ROUTE_KEY, true);

/** A route anyone may call (health, OpenAPI). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE_KEY, true);

/** The principal the auth guard resolved for this request. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const request = context.switchToHttp().getRequest<{ principal?: Principal }>();
  if (!request.principal) {
    throw new DomainError(ErrorCode.Unauthenticated, 'authentication required');
  }
  return request.principal;
});

/**
 * Checks that the principal may act for `agentId` with `scope`. Something of an agent the
 * principal cannot see answers exactly like a missing one: 404 naming the id the caller asked
 * for (the subject's, never the owning agent's), so nothing leaks across agents.
 */
export function assertAgentScope(
  principal: Principal,
  agentId: string,
  scope: Scope,
  subject: { what: string; id: string } = { what: 'agent', id: agentId },
): void {
  if (!principal.agents.some((a) => a.agent_id === agentId)) {
    throw DomainError.notFound(subject.what, subject.id);
  }
  if (!hasScope(scopesFor(principal, agentId), scope)) {
    throw new DomainError(ErrorCode.Forbidden, `this ${principal.type} lacks the ${scope} scope on agent ${agentId}`);
  }
}

/** True when the principal holds `scope` on at least one agent (the guard's coarse check). */
export function holdsScopeAnywhere(principal: Principal, scope: Scope): boolean {
  return principal.agents.some((a) => hasScope(a.scopes, scope));
}

/**
 * An agent principal reads its own agent record (agents:read on itself) and, until a delegation
 * contract grants it more, nothing else of that agent: not its members, not its keys.
 */
export function refuseSelfAgentReach(principal: Principal, agentId: string, what: string): void {
  if (principal.type === 'agent' && principal.id === agentId) {
    throw new DomainError(
      ErrorCode.Forbidden,
      `an agent principal may read only its own agent record, not its ${what}, until a delegation contract allows more`,
    );
  }
}
