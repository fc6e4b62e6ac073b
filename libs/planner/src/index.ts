export * from './planner-output';
export * from './planner-model';
export * from './rules-planner.model';
export * from './redaction';
export * from './planner.service';
export * from './planner.consumer';
export * from './planner.module';
