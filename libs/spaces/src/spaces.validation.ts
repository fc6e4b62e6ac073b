import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsString, IsUUID, Length, Matches } from 'class-validator';
import { DomainError, ErrorCode } from '@marvain/contracts';

/** No control characters (newlines, tabs, NUL, escape sequences) in names shown to people. */
const PRINTABLE = /^[^\p{Cc}]*$/u;

/** A display name: trimmed, 1 to `max` characters, printable. */
export const DisplayText = (max: number): PropertyDecorator =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)),
    IsString(),
    Length(1, max),
    Matches(PRINTABLE, { message: '$property must not contain control characters' }),
  );

/** A uuid path parameter, compared in lower case (the form every stored id has). */
export const UuidParam = (): PropertyDecorator =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
    IsUUID(),
  );

/** A validation failure found by a service, in the same shape the validation pipe reports. */
export function fieldError(field: string, problem: string): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, 'the request is not valid', {
    fields: [{ field, problems: [problem] }],
  });
}

/** True when the database refused a write because of a unique constraint (PGlite, node-postgres, Data API). */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Error)) {
    return false;
  }
  return (
    (error as { code?: unknown }).code === '23505' ||
    /duplicate key value violates unique constraint/i.test(error.message)
  );
}
