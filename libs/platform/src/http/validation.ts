import {
  Injectable,
  ValidationPipe,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type ValidationError,
} from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validate, ValidateIf } from 'class-validator';
import type { Observable } from 'rxjs';
import { DomainError, ErrorCode } from '@marvain/contracts';

function flatten(errors: ValidationError[], parent = ''): Array<{ field: string; problems: string[] }> {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** The `validation_failed` error for class-validator's findings, one entry per field. */
export function validationFailed(errors: ValidationError[]): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, 'the request is not valid', { fields: flatten(errors) });
}

/**
 * Validates input that does not come through a route (a WebSocket message) with the same DTO
 * classes and rules as the validation pipe: transformed, unknown fields refused, every problem
 * reported per field.
 */
export async function validateInput<T extends object>(type: ClassConstructor<T>, input: object): Promise<T> {
  const instance = plainToInstance(type, input);
  const errors = await validate(instance, { whitelist: true, forbidNonWhitelisted: true, stopAtFirstError: false });
  if (errors.length > 0) {
    throw validationFailed(errors);
  }
  return instance;
}

/** Validates every DTO; unknown fields are refused; failures become `validation_failed` with per-field details. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => validationFailed(errors),
  });
}

/**
 * An optional field that, when present, must be valid: unlike @IsOptional() it does not let
 * `null` through, so `{"name": null}` is a bad request rather than a value the handler must cope with.
 */
export const OptionalButNotNull = (): PropertyDecorator =>
  ValidateIf((_object: object, value: unknown) => value !== undefined);

const isEmptyBody = (body: unknown): boolean =>
  body === undefined ||
  body === null ||
  (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);

const unknownFields = (names: string[]): { fields: Array<{ field: string; problems: string[] }> } => ({
  fields: names.map((field) => ({ field, problems: [`property ${field} should not exist`] })),
});

/**
 * Refuses input a route does not declare: a query string on a route without @Query(), a body on
 * a route without @Body(). The validation pipe only sees declared parameters, so without this an
 * unknown field sent to such a route would be ignored instead of refused like everywhere else.
 */
@Injectable()
export class RefuseUndeclaredInput implements NestInterceptor {
  private readonly declared = new WeakMap<object, { body: boolean; query: boolean }>();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const declared = this.declaredInputs(context);
    const request = context.switchToHttp().getRequest<{ body?: unknown; query?: Record<string, unknown> }>();
    const queryNames = Object.keys(request.query ?? {});
    if (!declared.query && queryNames.length > 0) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        'this route takes no query parameters',
        unknownFields(queryNames),
      );
    }
    if (!declared.body && !isEmptyBody(request.body)) {
      const body = request.body;
      const details =
        typeof body === 'object' && body !== null && !Array.isArray(body)
          ? unknownFields(Object.keys(body))
          : undefined;
      throw new DomainError(ErrorCode.ValidationFailed, 'this route takes no request body', details);
    }
    return next.handle();
  }

  /** What the handler's parameter decorators take from the request (the whole request counts as both). */
  private declaredInputs(context: ExecutionContext): { body: boolean; query: boolean } {
    const handler = context.getHandler();
    let declared = this.declared.get(handler);
    if (!declared) {
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<
        string,
        unknown
      >;
      const kinds = new Set(Object.keys(args).map((key) => Number(key.split(':')[0])));
      const whole = kinds.has(RouteParamtypes.REQUEST);
      declared = {
        body: whole || kinds.has(RouteParamtypes.BODY) || kinds.has(RouteParamtypes.RAW_BODY),
        query: whole || kinds.has(RouteParamtypes.QUERY),
      };
      this.declared.set(handler, declared);
    }
    return declared;
  }
}
