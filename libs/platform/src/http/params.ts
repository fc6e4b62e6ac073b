import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsString, IsUUID, Length, Matches } from 'class-validator';
import { DomainError, ErrorCode } from '@marvain/contracts';

/** No control characters (newlines, tabs, NUL, escape sequences) in names shown to people. */
const PRINTABLE = /^[^\p{Cc}]*$/u;

/**
 * A display name (agents, devices, spaces, people): trimmed, then 1 to `max` characters, printable.
 * A name of spaces alone trims to nothing and is refused.
 */
export const DisplayText = (max: number): PropertyDecorator =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)),
    IsString(),
    Length(1, max),
    Matches(PRINTABLE, { message: '$property must not contain control characters' }),
  );

/** A uuid path parameter, lower-cased before it is checked: the form every stored id has. */
export const UuidParam = (): PropertyDecorator =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
    IsUUID(),
  );

/** `/v1/agents/:agent_id/...`: the one params class for routes under an agent. */
export class AgentIdParams {
  @UuidParam() agent_id!: string;
}

/** A validation failure found by a service, in the same shape the validation pipe reports. */
export function fieldError(field: string, problem: string): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, 'the request is not valid', {
    fields: [{ field, problems: [problem] }],
  });
}
