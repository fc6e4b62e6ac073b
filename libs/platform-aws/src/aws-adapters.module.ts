import { Module, type DynamicModule } from '@nestjs/common';
import { AUDIT_SINK, CLOCK, MESSAGE_QUEUE, type AwsSettings, type Clock, type HubConfig } from '@marvain/platform';
import { CONNECTION_PUSH, CONNECTION_STORE, type ConnectionStore } from '@marvain/realtime';
import { awsAdapters } from './aws-adapters';

/**
 * The AWS runtime's adapters, for PlatformModule.forRoot: SQS for the message queue, S3 with
 * Object Lock for the audit sink, DynamoDB for the WebSocket connections and API Gateway's
 * Management API to push to them (realtime's port,
 * LocalConnectionsModule's in the local runtime).
 */
@Module({})
export class AwsAdaptersModule {
  static forRoot(config: HubConfig): DynamicModule {
    const aws: AwsSettings | undefined = config.aws;
    if (!aws) {
      throw new Error('the AWS runtime needs config.aws (loadHubSettings reads it when MARVAIN_RUNTIME=aws)');
    }
    return {
      global: true,
      module: AwsAdaptersModule,
      providers: [
        { provide: MESSAGE_QUEUE, useFactory: () => awsAdapters.messageQueue(aws, config.queue) },
        { provide: AUDIT_SINK, inject: [CLOCK], useFactory: (clock: Clock) => awsAdapters.auditSink(aws, clock) },
        {
          provide: CONNECTION_STORE,
          inject: [CLOCK],
          useFactory: (clock: Clock) => awsAdapters.connectionStore(aws, clock),
        },
        {
          provide: CONNECTION_PUSH,
          inject: [CONNECTION_STORE],
          useFactory: (store: ConnectionStore) => awsAdapters.connectionPush(aws, store),
        },
      ],
      exports: [MESSAGE_QUEUE, AUDIT_SINK, CONNECTION_STORE, CONNECTION_PUSH],
    };
  }
}
