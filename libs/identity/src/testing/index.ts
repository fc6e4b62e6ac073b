import type { Principal } from '@marvain/contracts';
import type { FeatureTestContext } from '@marvain/platform/testing';
import { BootstrapService, type BootstrapResult } from '../bootstrap/bootstrap.service';
import { PrincipalResolver } from '../principals/principal-resolver.service';

export interface OwnerFixtures {
  /** A new owner with an agent named `agentName`, a space "home" and a device, as first-run bootstrap makes them. */
  seed(agentName?: string): Promise<BootstrapResult>;
  /** The seed's user as a principal, resolved fresh from its token, as every request is. */
  as(seed: BootstrapResult): Promise<Principal>;
}

/**
 * Owners for identity specs. `context` is read at each call, so the fixtures can be made before the
 * spec's beforeAll opens the context: `const { seed, as } = ownerFixtures(() => context);`.
 */
export function ownerFixtures(context: () => FeatureTestContext): OwnerFixtures {
  return {
    seed: (agentName = 'Forge') =>
      context().moduleRef.get(BootstrapService).bootstrap({ agentName, spaceName: 'home' }),
    as: (seed) => context().moduleRef.get(PrincipalResolver).resolve(seed.user_token),
  };
}
