import { Module } from '@nestjs/common';
import { ActionsModule } from '@marvain/actions';
import { AuditModule } from '@marvain/audit';
import { LoggingModule } from '@marvain/platform';
import { PresenceModule } from '@marvain/presence';
import { StreamsModule } from '@marvain/streams';
import { CommandExpiryTask } from './command-expiry.task';
import { CommandsController } from './commands.controller';
import { CommandsRepository } from './commands.repository';
import { CommandsService } from './commands.service';
import { DeviceCommandTool } from './device-command.tool';
import { DeviceLinks } from './device-link';

@Module({
  imports: [ActionsModule, AuditModule, LoggingModule, PresenceModule, StreamsModule],
  controllers: [CommandsController],
  providers: [CommandsRepository, CommandsService, DeviceLinks, DeviceCommandTool, CommandExpiryTask],
  exports: [CommandsService, DeviceLinks],
})
export class CommandsModule {}
