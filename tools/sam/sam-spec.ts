// The slice of the AWS SAM specification this repository uses, encoded from the SAM developer guide
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-resources-and-properties.html):
// resource properties, the properties the guide marks "Required: Yes", the event source types with
// their properties, the keys `Globals` accepts, and which CloudFormation resource each SAM resource
// becomes under the same logical id (so Fn::GetAtt on it takes that resource's attributes).

export interface SamEventSpec {
  properties: readonly string[];
  required: readonly string[];
  /** Properties SAM copies unchanged onto a CloudFormation resource of this type (checked against its spec). */
  passThrough?: { type: string; properties: readonly string[] };
}

export interface SamResourceSpec {
  properties: readonly string[];
  required: readonly string[];
  /** The CloudFormation type SAM generates with the same logical id: its attributes are the SAM resource's. */
  generates: string;
  /** Properties SAM copies unchanged onto the generated resource (checked against its spec). */
  passThrough: readonly string[];
  events?: Readonly<Record<string, SamEventSpec>>;
  /** Keys allowed under `Globals.<section>` for this resource type. */
  globals?: { section: string; properties: readonly string[] };
}

// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html
const FUNCTION_PROPERTIES = [
  'Architectures',
  'AssumeRolePolicyDocument',
  'AutoPublishAlias',
  'AutoPublishAliasAllProperties',
  'AutoPublishCodeSha256',
  'CapacityProviderConfig',
  'CodeSigningConfigArn',
  'CodeUri',
  'DeadLetterQueue',
  'DeploymentPreference',
  'Description',
  'DurableConfig',
  'Environment',
  'EphemeralStorage',
  'EventInvokeConfig',
  'Events',
  'FileSystemConfigs',
  'FunctionName',
  'FunctionScalingConfig',
  'FunctionUrlConfig',
  'Handler',
  'ImageConfig',
  'ImageUri',
  'InlineCode',
  'KmsKeyArn',
  'Layers',
  'LoggingConfig',
  'MemorySize',
  'PackageType',
  'PermissionsBoundary',
  'Policies',
  'PropagateTags',
  'ProvisionedConcurrencyConfig',
  'PublishToLatestPublished',
  'RecursiveLoop',
  'ReservedConcurrentExecutions',
  'Role',
  'RolePath',
  'Runtime',
  'RuntimeManagementConfig',
  'SnapStart',
  'SourceKMSKeyArn',
  'Tags',
  'Timeout',
  'Tracing',
  'VersionDescription',
  'VpcConfig',
] as const;

// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html
const FUNCTION_GLOBALS = [
  'Architectures',
  'AssumeRolePolicyDocument',
  'AutoPublishAlias',
  'AutoPublishAliasAllProperties',
  'CodeUri',
  'DeadLetterQueue',
  'DeploymentPreference',
  'Description',
  'Environment',
  'EphemeralStorage',
  'EventInvokeConfig',
  'FileSystemConfigs',
  'FunctionUrlConfig',
  'Handler',
  'KmsKeyArn',
  'Layers',
  'LoggingConfig',
  'MemorySize',
  'PermissionsBoundary',
  'PropagateTags',
  'ProvisionedConcurrencyConfig',
  'RecursiveLoop',
  'ReservedConcurrentExecutions',
  'RolePath',
  'Runtime',
  'RuntimeManagementConfig',
  'SnapStart',
  'SourceKMSKeyArn',
  'Tags',
  'Timeout',
  'Tracing',
  'VpcConfig',
] as const;

// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-api.html
const API_PROPERTIES = [
  'AccessLogSetting',
  'AlwaysDeploy',
  'ApiKeySourceType',
  'Auth',
  'BinaryMediaTypes',
  'CacheClusterEnabled',
  'CacheClusterSize',
  'CanarySetting',
  'Cors',
  'DefinitionBody',
  'DefinitionUri',
  'Description',
  'DisableExecuteApiEndpoint',
  'Domain',
  'EndpointConfiguration',
  'FailOnWarnings',
  'GatewayResponses',
  'MergeDefinitions',
  'MethodSettings',
  'MinimumCompressionSize',
  'Mode',
  'Models',
  'Name',
  'OpenApiVersion',
  'Policy',
  'PropagateTags',
  'StageName',
  'Tags',
  'TracingEnabled',
  'Variables',
] as const;

const API_GLOBALS = [
  'AccessLogSetting',
  'Auth',
  'BinaryMediaTypes',
  'CacheClusterEnabled',
  'CacheClusterSize',
  'CanarySetting',
  'Cors',
  'DefinitionUri',
  'Domain',
  'EndpointConfiguration',
  'GatewayResponses',
  'MethodSettings',
  'MinimumCompressionSize',
  'Name',
  'OpenApiVersion',
  'PropagateTags',
  'TracingEnabled',
  'Variables',
] as const;

export const SAM_SPEC: Readonly<Record<string, SamResourceSpec>> = {
  'AWS::Serverless::Function': {
    properties: FUNCTION_PROPERTIES,
    // CodeUri/InlineCode/ImageUri, Handler and Runtime are "conditional" in the guide, never plainly required.
    required: [],
    generates: 'AWS::Lambda::Function',
    passThrough: [
      'Architectures',
      'Description',
      'Environment',
      'EphemeralStorage',
      'FileSystemConfigs',
      'Handler',
      'KmsKeyArn',
      'Layers',
      'LoggingConfig',
      'MemorySize',
      'PackageType',
      'RecursiveLoop',
      'ReservedConcurrentExecutions',
      'Role',
      'Runtime',
      'RuntimeManagementConfig',
      'SnapStart',
      'Timeout',
      'VpcConfig',
    ],
    globals: { section: 'Function', properties: FUNCTION_GLOBALS },
    events: {
      // https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-api.html
      Api: {
        properties: ['Auth', 'Method', 'Path', 'RequestModel', 'RequestParameters', 'RestApiId', 'TimeoutInMillis'],
        required: ['Method', 'Path'],
      },
      // https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-sqs.html
      SQS: {
        properties: [
          'BatchSize',
          'Enabled',
          'FilterCriteria',
          'FunctionResponseTypes',
          'KmsKeyArn',
          'MaximumBatchingWindowInSeconds',
          'MetricsConfig',
          'Queue',
          'ScalingConfig',
        ],
        required: ['Queue'],
        passThrough: {
          type: 'AWS::Lambda::EventSourceMapping',
          properties: [
            'BatchSize',
            'Enabled',
            'FilterCriteria',
            'FunctionResponseTypes',
            'KmsKeyArn',
            'MaximumBatchingWindowInSeconds',
            'MetricsConfig',
            'ScalingConfig',
          ],
        },
      },
      // https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-schedule.html
      Schedule: {
        properties: [
          'DeadLetterConfig',
          'Description',
          'Enabled',
          'Input',
          'Name',
          'RetryPolicy',
          'RoleArn',
          'Schedule',
          'State',
        ],
        required: ['Schedule'],
        passThrough: { type: 'AWS::Events::Rule', properties: ['Description', 'Name', 'RoleArn', 'State'] },
      },
    },
  },
  'AWS::Serverless::Api': {
    properties: API_PROPERTIES,
    required: ['StageName'],
    generates: 'AWS::ApiGateway::RestApi',
    // Api properties become the OpenAPI body, stage and deployment: none maps one-to-one.
    passThrough: [],
    globals: { section: 'Api', properties: API_GLOBALS },
  },
  // https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-simpletable.html
  'AWS::Serverless::SimpleTable': {
    properties: [
      'PointInTimeRecoverySpecification',
      'PrimaryKey',
      'ProvisionedThroughput',
      'SSESpecification',
      'TableName',
      'Tags',
    ],
    required: [],
    generates: 'AWS::DynamoDB::Table',
    passThrough: ['PointInTimeRecoverySpecification', 'ProvisionedThroughput', 'SSESpecification', 'TableName', 'Tags'],
    globals: { section: 'SimpleTable', properties: ['SSESpecification'] },
  },
};

/** Resource attributes (besides Type and Properties) a SAM or CloudFormation resource may carry. */
export const RESOURCE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'Type',
  'Properties',
  'Condition',
  'DependsOn',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
  'Metadata',
  // SAM only: embedded connectors and `IgnoreGlobals`.
  'Connectors',
  'IgnoreGlobals',
]);

export const TEMPLATE_SECTIONS: ReadonlySet<string> = new Set([
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Rules',
  'Mappings',
  'Conditions',
  'Transform',
  'Globals',
  'Resources',
  'Outputs',
]);

export const PSEUDO_PARAMETERS: ReadonlySet<string> = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);
