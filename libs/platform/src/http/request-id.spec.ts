import { acceptedRequestId, currentRequestId, requestIdFor, withRequestId } from '../logging/request-context';
import { withGatewayRequestId } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it("accepts a caller's id that is a short token, and generates one otherwise", () => {
    expect(requestIdFor('req-42.a_b~c')).toBe('req-42.a_b~c');
    expect(requestIdFor('6f1e0c1e-8d0a-4f53-9d8e-2a7e3c1b5a90')).toBe('6f1e0c1e-8d0a-4f53-9d8e-2a7e3c1b5a90');
    for (const bad of [undefined, '', 'has space', 'line\nbreak', 'x'.repeat(129), 'quote"', 'ünï', ['a', 'b']]) {
      expect(acceptedRequestId(bad)).toBeUndefined();
      expect(requestIdFor(bad)).toMatch(UUID);
    }
    expect(acceptedRequestId('x'.repeat(128))).toBe('x'.repeat(128));
  });

  it('is current within withRequestId, across awaits, and only there', async () => {
    expect(currentRequestId()).toBeUndefined();
    const seen = await Promise.all(
      ['a', 'b'].map((id) =>
        withRequestId(id, async () => {
          await new Promise((resolve) => setTimeout(resolve, id === 'a' ? 20 : 1));
          return currentRequestId();
        }),
      ),
    );
    expect(seen).toEqual(['a', 'b']);
    expect(currentRequestId()).toBeUndefined();
  });

  it("on Lambda keeps a caller's sane id and otherwise takes API Gateway's", () => {
    const event = (headers: Record<string, string>) => ({
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
      requestContext: { requestId: 'gw-1' },
    });
    expect(withGatewayRequestId(event({ 'X-Request-Id': 'mine', host: 'h' }))).toMatchObject({
      headers: { 'x-request-id': 'mine', host: 'h' },
      multiValueHeaders: { 'x-request-id': ['mine'], host: ['h'] },
    });
    const replaced = withGatewayRequestId(event({ 'x-request-id': 'not sane' }));
    expect(replaced.headers).toEqual({ 'x-request-id': 'gw-1' });
    expect(replaced.multiValueHeaders).toEqual({ 'x-request-id': ['gw-1'] });
    expect(withGatewayRequestId(event({})).headers).toEqual({ 'x-request-id': 'gw-1' });
  });
});
