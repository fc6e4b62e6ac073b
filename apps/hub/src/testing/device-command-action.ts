import { randomUUID } from 'node:crypto';
import { ActionsService } from '@marvain/actions';
import { TransactionRunner } from '@marvain/db';
import type { BootstrapResult } from '@marvain/identity';
import type { HubTestServer } from './hub-test-server';

/**
 * Proposes a `device_command` action as the agent would and approves it over REST as the owner;
 * returns the action's id. Throws when the approval is refused.
 */
export async function approvedDeviceCommand(
  hub: HubTestServer,
  home: BootstrapResult,
  payload: Record<string, unknown>,
  reason = 'run a command on a satellite',
): Promise<string> {
  const actionId = randomUUID();
  await hub.app.get(TransactionRunner).run((tx) =>
    hub.app.get(ActionsService).propose(
      tx,
      {
        action_id: actionId,
        agent_id: home.agent_id,
        space_id: home.space_id,
        kind: 'device_command',
        payload,
        required_scopes: ['devices:command'],
        reason,
        source_event_id: null,
      },
      { type: 'agent', id: home.agent_id },
    ),
  );
  const approved = await hub.call('POST', `/v1/actions/${actionId}/approve`, home.user_token);
  if (approved.status !== 200) {
    throw new Error(`approving action ${actionId} answered ${approved.status}: ${JSON.stringify(approved.json)}`);
  }
  return actionId;
}
