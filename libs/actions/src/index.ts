export * from './actions.dto';
export * from './actions.service';
export * from './tool-runner.service';
export * from './tool-runner.consumer';
export * from './tools/tool';
export * from './actions.module';
