export * from './commands.service';
export * from './commands.module';
export * from './device-link';
export * from './device-command.tool';
export { CommandResultMessage, DeviceCommandView, DeviceCommandList } from './commands.dto';
