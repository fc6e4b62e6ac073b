import { Module } from '@nestjs/common';
import { AuditModule } from '@marvain/audit';
import { CLOCK, HubConfig, LoggingModule, type Clock } from '@marvain/platform';
import { PresenceModule } from '@marvain/presence';
import { SpacesModule } from '@marvain/spaces';
import { AccessService } from './principals/access.service';
import { AgentCredentialsController } from './agent-credentials/agent-credentials.controller';
import { AssertionJanitor } from './agent-credentials/assertion-janitor';
import { AgentCredentialsRepository } from './agent-credentials/agent-credentials.repository';
import { AgentCredentialsService } from './agent-credentials/agent-credentials.service';
import { AgentsController } from './agents/agents.controller';
import { AgentsRepository } from './agents/agents.repository';
import { AgentsService } from './agents/agents.service';
import { MeController } from './principals/me.controller';
import { AuthGuard } from './principals/auth.guard';
import { BootstrapService } from './bootstrap/bootstrap.service';
import { DevicesController } from './devices/devices.controller';
import { DevicesRepository } from './devices/devices.repository';
import { DevicesService } from './devices/devices.service';
import { LocalUsersService } from './users/local-users.service';
import { UsersRepository } from './users/users.repository';
import { MembersController } from './members/members.controller';
import { MembersRepository } from './members/members.repository';
import { MembersService } from './members/members.service';
import { PrincipalResolver } from './principals/principal-resolver.service';
import { PrincipalRevocations } from './principals/principal-revocations';
import { CognitoUserTokens } from './users/cognito-user-tokens';
import {
  LocalUserTokens,
  USER_TOKEN_ISSUER,
  USER_TOKEN_VERIFIER,
  USER_TOKENS,
  type UserTokenIssuer,
  type UserTokenVerifier,
} from './users/user-tokens';

@Module({
  imports: [AuditModule, LoggingModule, PresenceModule, SpacesModule],
  controllers: [AgentCredentialsController, AgentsController, MembersController, DevicesController, MeController],
  providers: [
    AgentCredentialsRepository,
    AgentCredentialsService,
    AssertionJanitor,
    AgentsRepository,
    AgentsService,
    MembersRepository,
    MembersService,
    DevicesRepository,
    DevicesService,
    UsersRepository,
    PrincipalResolver,
    PrincipalRevocations,
    AuthGuard,
    BootstrapService,
    AccessService,
    LocalUsersService,
    {
      provide: USER_TOKENS,
      inject: [HubConfig, CLOCK],
      useFactory: (config: HubConfig, clock: Clock): UserTokenIssuer & UserTokenVerifier => {
        if (config.runtime !== 'aws') {
          return new LocalUserTokens(LocalUserTokens.keyFileIn(config.dataDir), config.userTokenTtlSeconds, clock);
        }
        const userPoolId = config.aws?.cognito?.userPoolId;
        const clientId = config.aws?.cognito?.clientId;
        if (!userPoolId || !clientId) {
          throw new Error(
            'the AWS runtime needs MARVAIN_COGNITO_USER_POOL_ID and MARVAIN_COGNITO_CLIENT_ID to verify user tokens',
          );
        }
        return new CognitoUserTokens(userPoolId, clientId);
      },
    },
    { provide: USER_TOKEN_ISSUER, useExisting: USER_TOKENS },
    { provide: USER_TOKEN_VERIFIER, useExisting: USER_TOKENS },
  ],
  exports: [
    PrincipalResolver,
    PrincipalRevocations,
    AuthGuard,
    BootstrapService,
    AccessService,
    DevicesService,
    LocalUsersService,
    USER_TOKEN_ISSUER,
  ],
})
export class IdentityModule {}
