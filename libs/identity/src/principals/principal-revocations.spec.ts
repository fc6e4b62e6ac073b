import { Logger } from '@nestjs/common';
import type { Principal } from '@marvain/contracts';
import type { Tx } from '@marvain/db';
import { LoggerFactory } from '@marvain/platform';
import { PrincipalRevocations, revocationConcerns, type PrincipalRevocation } from './principal-revocations';

/** A transaction stand-in: afterCommit callbacks run on commit(), never on rollback. */
function fakeTx(): { tx: Tx; commit: () => void } {
  const callbacks: Array<() => void | Promise<void>> = [];
  return {
    tx: { db: null as never, afterCommit: (callback) => void callbacks.push(callback) },
    commit: () => callbacks.forEach((c) => void c()),
  };
}

const DEVICE: Principal = { type: 'device', id: 'd1', agents: [{ agent_id: 'a1', scopes: ['events:write'] }] };
const USER: Principal = {
  type: 'user',
  id: 'u1',
  agents: [
    { agent_id: 'a1', scopes: [] },
    { agent_id: 'a2', scopes: [] },
  ],
};

describe('PrincipalRevocations', () => {
  it('announces a revocation only once its transaction commits, to every listener, past one that throws', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const revocations = new PrincipalRevocations(new LoggerFactory());
    const heard: PrincipalRevocation[] = [];
    revocations.subscribe(() => {
      throw new Error('a broken listener');
    });
    const unsubscribe = revocations.subscribe((r) => void heard.push(r));
    const revocation: PrincipalRevocation = { principal: { type: 'device', id: 'd1' }, reason: 'credential_revoked' };

    const rolledBack = fakeTx();
    revocations.afterCommit(rolledBack.tx, revocation);
    const committed = fakeTx();
    revocations.afterCommit(committed.tx, revocation);
    expect(heard).toEqual([]);
    committed.commit();
    expect(heard).toEqual([revocation]);

    unsubscribe();
    void revocations.announce(revocation);
    expect(heard).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('a broken listener'));
    warn.mockRestore();
  });

  it('waits for asynchronous listeners, logging one that rejects without failing the others', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const revocations = new PrincipalRevocations(new LoggerFactory());
    const done: string[] = [];
    revocations.subscribe(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      done.push('slow');
    });
    revocations.subscribe(() => Promise.reject(new Error('DeleteConnection refused')));
    await revocations.announce({ agentId: 'a1', reason: 'credential_revoked' });
    expect(done).toEqual(['slow']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('DeleteConnection refused'));
    warn.mockRestore();
  });

  it('concerns the principal itself, or every principal acting for a named agent', () => {
    expect(revocationConcerns({ principal: { type: 'device', id: 'd1' }, reason: 'credential_revoked' }, DEVICE)).toBe(
      true,
    );
    expect(revocationConcerns({ principal: { type: 'user', id: 'd1' }, reason: 'credential_revoked' }, DEVICE)).toBe(
      false,
    );
    expect(revocationConcerns({ agentId: 'a2', reason: 'credential_revoked' }, USER)).toBe(true);
    expect(revocationConcerns({ agentId: 'a2', reason: 'credential_revoked' }, DEVICE)).toBe(false);
  });
});
