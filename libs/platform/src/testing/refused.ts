import { DomainError, type ErrorCode } from '@marvain/contracts';

/**
 * The DomainError a call was refused with, for the spec to check further. It fails (throws) when
 * the call succeeded, when it failed with anything but a DomainError (rethrown as it is) and,
 * given `code`, when the refusal carries another code.
 */
export async function refused(promise: Promise<unknown>, code?: ErrorCode): Promise<DomainError> {
  const expected = code === undefined ? 'a refusal' : `a refusal with ${code}`;
  const error = await promise.then(
    () => {
      throw new Error(`expected ${expected}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  if (!(error instanceof DomainError)) {
    throw error;
  }
  if (code !== undefined && error.code !== code) {
    throw new Error(`expected ${expected}, but it was refused with ${error.code}: ${error.message}`, { cause: error });
  }
  return error;
}
