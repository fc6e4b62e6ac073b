import { ErrorCode } from '@marvain/contracts';
import { toErrorResponse } from './error-filter';

describe('toErrorResponse for framework errors', () => {
  it.each([
    [404, ErrorCode.NotFound],
    [405, ErrorCode.MethodNotAllowed],
    [408, ErrorCode.RequestTimeout],
    [413, ErrorCode.PayloadTooLarge],
    [415, ErrorCode.UnsupportedMediaType],
    [431, ErrorCode.HeadersTooLarge],
  ])('keeps status %i, with its own code', (status, code) => {
    const error = Object.assign(new Error('refused'), { statusCode: status });
    expect(toErrorResponse(error)).toEqual({ status, body: { error: { code, message: 'refused' } } });
  });

  it('cuts a long framework message (it can quote the request path)', () => {
    const { body } = toErrorResponse(
      Object.assign(new Error(`Cannot GET /${'x'.repeat(20_000)}`), { statusCode: 404 }),
    );
    expect(body.error.message.length).toBeLessThanOrEqual(200);
    expect(body.error.message.startsWith('Cannot GET /xxx')).toBe(true);
  });
});
