import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import type { Principal } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { BootstrapService, PrincipalResolver, type BootstrapResult } from '@marvain/identity';
import type { NewProposedAction } from '../actions.repository';
import { ActionsService } from '../actions.service';

/** An agent made by first-run bootstrap (owner, space "home", device), with its owner as a principal. */
export interface SeededAgent extends BootstrapResult {
  owner: Principal;
}

/** A fresh agent; its owner is resolved from the owner's real token. */
export async function seedAgent(moduleRef: TestingModule, agentName = 'Forge'): Promise<SeededAgent> {
  const result = await moduleRef.get(BootstrapService).bootstrap({ agentName, spaceName: 'home' });
  return { ...result, owner: await moduleRef.get(PrincipalResolver).resolve(result.user_token) };
}

/** What a spec may change about a proposal; the rest is a send_message to Sam needing messages:send. */
export type ProposalOverrides = Partial<Pick<NewProposedAction, 'kind' | 'payload' | 'required_scopes' | 'reason'>>;

/**
 * Proposes an action for the agent in the space the way the planner does: in a transaction of its
 * own, with the agent as the actor and no source event. Resolves to the new action's id.
 */
export async function proposeAction(
  moduleRef: TestingModule,
  where: { agent_id: string; space_id: string },
  overrides: ProposalOverrides = {},
): Promise<string> {
  const actionId = randomUUID();
  const actions = moduleRef.get(ActionsService);
  await moduleRef.get(TransactionRunner).run((tx) =>
    actions.propose(
      tx,
      {
        action_id: actionId,
        agent_id: where.agent_id,
        space_id: where.space_id,
        kind: overrides.kind ?? 'send_message',
        payload: overrides.payload ?? { to: 'Sam', text: 'the package arrived' },
        required_scopes: overrides.required_scopes ?? ['messages:send'],
        reason: overrides.reason ?? null,
        source_event_id: null,
      },
      { type: 'agent', id: where.agent_id },
    ),
  );
  return actionId;
}
