import { AuditService, type AuditVerification } from '@marvain/audit';
import type { HubConfig } from '@marvain/platform';
import { CliError } from '../cli-error';
import { viaHubOrDirect } from '../hub-or-direct';

/**
 * `marvain audit verify [--system | --agent <id>]`: recomputes one chain from its write-once
 * copies and compares it with the database. Exit code 1 when the chain does not verify.
 */
export async function auditVerifyCommand(
  config: HubConfig,
  options: { system: boolean; agent?: string; json: boolean },
  out: (text: string) => void,
): Promise<AuditVerification> {
  if (options.system === Boolean(options.agent)) {
    throw new CliError('name the chain: --system, or --agent <id>', 2);
  }
  const agentId = options.agent ?? null;
  const { result } = await viaHubOrDirect<AuditVerification>(
    config,
    { path: 'audit/verify', body: agentId ? { agent_id: agentId } : {} },
    (context) => context.get(AuditService).verify(agentId),
  );
  if (options.json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
  } else if (result.ok) {
    out(
      `chain ${result.chain_id}: ok, ${result.entries} entries${result.head ? `, head seq ${result.head.seq}` : ''}\n`,
    );
  } else {
    out(
      `chain ${result.chain_id}: NOT OK at seq ${String(result.first_bad_seq ?? 0)}: ${result.reason ?? ''}\n${(result.problems ?? []).map((p) => `  - ${p.message}\n`).join('')}`,
    );
  }
  if (!result.ok) {
    throw new CliError(`the audit chain ${result.chain_id} does not verify`, 1);
  }
  return result;
}
