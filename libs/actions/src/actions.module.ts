import { Module } from '@nestjs/common';
import { LoggingModule } from '@marvain/platform';
import { AuditModule } from '@marvain/audit';
import { EventsModule } from '@marvain/events';
import { IdentityModule } from '@marvain/identity';
import { StreamsModule } from '@marvain/streams';
import { ActionsController } from './actions.controller';
import { ActionsRepository } from './actions.repository';
import { ActionsService } from './actions.service';
import { ToolRunnerConsumer } from './tool-runner.consumer';
import { ToolRunnerService } from './tool-runner.service';
import { SendMessageTool } from './tools/send-message.tool';
import { ToolRegistry } from './tools/tool';

@Module({
  imports: [AuditModule, EventsModule, IdentityModule, LoggingModule, StreamsModule],
  controllers: [ActionsController],
  providers: [
    ActionsRepository,
    ActionsService,
    ToolRunnerService,
    ToolRunnerConsumer,
    SendMessageTool,
    {
      provide: ToolRegistry,
      inject: [SendMessageTool],
      useFactory: (...tools: SendMessageTool[]) => new ToolRegistry(tools),
    },
  ],
  exports: [ActionsService, ToolRunnerService, ToolRunnerConsumer, ToolRegistry],
})
export class ActionsModule {}
