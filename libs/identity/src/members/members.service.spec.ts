import { DomainError, ErrorCode } from '@marvain/contracts';
import { uniqueViolation } from '@marvain/db';
import { MembershipConflict, membershipConflictFrom } from './members.service';

/** The shape node-postgres and PGlite give a unique violation. */
function driverError(constraint: string): Error {
  return Object.assign(new Error(`duplicate key value violates unique constraint "${constraint}"`), {
    code: '23505',
    severity: 'ERROR',
    constraint,
  });
}

/** What the RDS Data API sends instead: the server error flattened into the message, SQLSTATE last. */
function dataApiError(constraint: string): Error {
  const error = new Error(
    `ERROR: duplicate key value violates unique constraint "${constraint}"; Detail: Key (agent_id)=(…) already exists.; SQLState: 23505`,
  );
  error.name = 'DatabaseErrorException';
  return error;
}

describe('membership unique violations', () => {
  it.each([
    ['node-postgres / PGlite', driverError],
    ['RDS Data API', dataApiError],
  ])('are recognised with their constraint from %s', (_source, make) => {
    expect(uniqueViolation(make('agent_memberships_one_owner'))).toBe('agent_memberships_one_owner');
    expect(membershipConflictFrom(make('agent_memberships_one_owner'))).toMatchObject({
      code: ErrorCode.Conflict,
      details: { reason: MembershipConflict.OwnershipChanged },
    });
    expect((membershipConflictFrom(make('agent_memberships_one_owner')) as DomainError).details).toEqual({
      reason: 'ownership_changed',
    });
    expect((membershipConflictFrom(make('agent_memberships_one_active')) as DomainError).details).toEqual({
      reason: 'already_member',
    });
  });

  it('leave every other error alone, so it is not disguised as a conflict', () => {
    expect(membershipConflictFrom(driverError('spaces_agent_id_name_key'))).toBeUndefined();
    expect(
      membershipConflictFrom(Object.assign(new Error('deadlock detected'), { code: '40P01', severity: 'ERROR' })),
    ).toBeUndefined();
    expect(membershipConflictFrom(new DomainError(ErrorCode.NotFound, 'member x was not found'))).toBeUndefined();
    expect(membershipConflictFrom(undefined)).toBeUndefined();
    expect(membershipConflictFrom('duplicate')).toBeUndefined();
    // A 23505 without a constraint name is still a unique violation, but not one of ours.
    expect(uniqueViolation(Object.assign(new Error('boom'), { code: '23505' }))).toBe('unknown');
  });
});
