import { isUniqueViolation, uniqueViolation } from './errors';

describe('uniqueViolation', () => {
  it('names the constraint node-postgres and PGlite report with SQLSTATE 23505', () => {
    expect(uniqueViolation(Object.assign(new Error('x'), { code: '23505', constraint: 'spaces_agent_name_key' }))).toBe(
      'spaces_agent_name_key',
    );
  });

  it('reads the constraint from the message when the Data API reports only text', () => {
    const error = new Error('ERROR: duplicate key value violates unique constraint "one_owner"; SQLState: 23505');
    expect(uniqueViolation(error)).toBe('one_owner');
    expect(uniqueViolation(new Error('SQLState: 23505'))).toBe('unknown');
  });

  it('is undefined for any other failure', () => {
    expect(uniqueViolation(Object.assign(new Error('fk'), { code: '23503' }))).toBeUndefined();
    expect(uniqueViolation('23505')).toBeUndefined();
    expect(isUniqueViolation(null)).toBe(false);
  });
});
