import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode, type Principal, type Scope } from '@marvain/contracts';
import { AUTHENTICATED_ROUTE_KEY, holdsScopeAnywhere, PUBLIC_ROUTE_KEY, REQUIRED_SCOPE_KEY } from '@marvain/platform';
import { PrincipalResolver } from './principal-resolver.service';

/**
 * The one REST guard: resolves the bearer credential and checks the route's declared scope.
 * A route that declares neither a scope nor @Public() is refused (fail closed). Whether the
 * principal may touch a particular agent is checked where the agent id is known.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: PrincipalResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true;
    }
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE_KEY, targets)) {
      return true;
    }
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE_KEY, targets);
    const anyPrincipal = this.reflector.getAllAndOverride<boolean>(AUTHENTICATED_ROUTE_KEY, targets);
    if (!scope && !anyPrincipal) {
      throw new DomainError(ErrorCode.Forbidden, 'this route declares no scope and is closed');
    }

    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; principal?: Principal }>();
    const header = request.headers['authorization'];
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new DomainError(ErrorCode.Unauthenticated, 'send credentials as "Authorization: Bearer <token>"');
    }
    const principal = await this.resolver.resolve(match[1]);
    if (scope && !holdsScopeAnywhere(principal, scope)) {
      throw new DomainError(ErrorCode.Forbidden, `this ${principal.type} lacks the ${scope} scope`);
    }
    request.principal = principal;
    return true;
  }
}
