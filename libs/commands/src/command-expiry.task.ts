import { Injectable, type OnModuleInit } from '@nestjs/common';
import { MaintenanceTasks, type MaintenanceTask } from '@marvain/presence';
import { CommandsService } from './commands.service';

/** Maintenance expires pending commands past their TTL (both runtimes run maintenance). */
@Injectable()
export class CommandExpiryTask implements MaintenanceTask, OnModuleInit {
  readonly name = 'commands_expired';

  constructor(
    private readonly commands: CommandsService,
    private readonly tasks: MaintenanceTasks,
  ) {}

  onModuleInit(): void {
    this.tasks.register(this);
  }

  run(): Promise<number> {
    return this.commands.expireDue();
  }
}
