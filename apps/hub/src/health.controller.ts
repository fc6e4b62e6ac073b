import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { DatabaseInfo } from '@marvain/db';
import { MARVAIN_VERSION } from '@marvain/contracts';
import { HubConfig, Public } from '@marvain/platform';

class DatabaseHealth {
  @ApiProperty({ enum: ['pglite', 'postgres', 'data-api'] }) kind!: string;
  @ApiProperty({ nullable: true, example: '0004' }) schema_version!: string | null;
  @ApiProperty({ description: 'whether pgvector is installed, so vector recall can run' }) vector!: boolean;
}

class Health {
  @ApiProperty({ example: 'ok' }) status!: 'ok';
  @ApiProperty({ enum: ['local', 'aws'] }) runtime!: string;
  @ApiProperty() version!: string;
  @ApiProperty({ type: DatabaseHealth }) database!: DatabaseHealth;
  @ApiProperty({
    enum: ['configured', 'not_configured'],
    description: 'Whether LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are set (voice and video rooms)',
  })
  livekit!: 'configured' | 'not_configured';
}

@ApiTags('health')
@Controller('v1/health')
export class HealthController {
  constructor(
    private readonly config: HubConfig,
    private readonly database: DatabaseInfo,
  ) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness and what this hub runs on' })
  @ApiOkResponse({ type: Health })
  health(): Health {
    return {
      status: 'ok',
      runtime: this.config.runtime,
      version: HUB_VERSION,
      database: { kind: this.database.kind, schema_version: this.database.schemaVersion, vector: this.database.vector },
      livekit: this.config.livekit ? 'configured' : 'not_configured',
    };
  }
}

export const HUB_VERSION = MARVAIN_VERSION;
