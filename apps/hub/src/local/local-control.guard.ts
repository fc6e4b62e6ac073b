import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { CLOCK, CONTROL_DEADLINE_HEADER, type Clock } from '@marvain/platform';
import { LOCAL_CONTROL_SECRET } from '../local-control.token';

export const LOCAL_CONTROL_HEADER = 'x-marvain-control';

/**
 * The one guard of the local control routes (the CLI's way in while this hub holds the embedded
 * database): the secret in the hub's lock file, readable only by the operator, and the CLI's
 * deadline, checked before acting so a request the CLI already gave up on does nothing.
 */
@Injectable()
export class LocalControlGuard implements CanActivate {
  constructor(
    @Inject(LOCAL_CONTROL_SECRET) private readonly secret: string | null,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const headers = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers;
    this.checkSecret(single(headers[LOCAL_CONTROL_HEADER]));
    this.checkDeadline(headers[CONTROL_DEADLINE_HEADER]);
    return true;
  }

  private checkSecret(presented: string | undefined): void {
    const expected = Buffer.from(this.secret ?? '');
    const given = Buffer.from(presented ?? '');
    if (!this.secret || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new DomainError(ErrorCode.Unauthenticated, 'the local control secret is missing or wrong');
    }
  }

  /** No header, no deadline (curl, older CLIs). */
  private checkDeadline(header: string | string[] | undefined): void {
    if (header === undefined) {
      return;
    }
    if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        `${CONTROL_DEADLINE_HEADER} must be milliseconds since the epoch`,
      );
    }
    const late = this.clock.now().getTime() - Number(header);
    if (late >= 0) {
      throw new DomainError(
        ErrorCode.DeadlineExceeded,
        `the request reached the hub ${late} ms after its deadline, so nothing was done; the client had already given up`,
      );
    }
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
