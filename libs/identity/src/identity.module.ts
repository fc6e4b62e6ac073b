import { Module } from '@nestjs/common';
import { AuditModule } from '@marvain/audit';
import { CLOCK, HubConfig, type Clock } from '@marvain/platform';
import { SpacesModule } from '@marvain/spaces';
import { AccessService } from './access.service';
import { AgentCredentialsController } from './agent-credentials.controller';
import { AssertionJanitor } from './assertion-janitor';
import { AgentCredentialsRepository } from './agent-credentials.repository';
import { AgentCredentialsService } from './agent-credentials.service';
import { MeController } from './me.controller';
import { AuthGuard } from './auth.guard';
import { BootstrapService } from './bootstrap.service';
import { IdentityRepository } from './identity.repository';
import { LocalUsersService } from './local-users.service';
import { PrincipalResolver } from './principal-resolver.service';
import { LocalUserTokens, USER_TOKEN_ISSUER, USER_TOKEN_VERIFIER } from './user-tokens';

@Module({
  imports: [AuditModule, SpacesModule],
  controllers: [AgentCredentialsController, MeController],
  providers: [
    AgentCredentialsRepository,
    AgentCredentialsService,
    AssertionJanitor,
    IdentityRepository,
    PrincipalResolver,
    AuthGuard,
    BootstrapService,
    AccessService,
    LocalUsersService,
    {
      provide: LocalUserTokens,
      inject: [HubConfig, CLOCK],
      useFactory: (config: HubConfig, clock: Clock) =>
        new LocalUserTokens(LocalUserTokens.keyFileIn(config.dataDir), config.userTokenTtlSeconds, clock),
    },
    { provide: USER_TOKEN_ISSUER, useExisting: LocalUserTokens },
    { provide: USER_TOKEN_VERIFIER, useExisting: LocalUserTokens },
  ],
  exports: [PrincipalResolver, AuthGuard, BootstrapService, AccessService, LocalUsersService, USER_TOKEN_ISSUER],
})
export class IdentityModule {}
