import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import { IngestEventDto, IngestedEventView } from './events.dto';
import { EventsService } from './events.service';

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Post()
  @HttpCode(202)
  @RequireScope('events:write')
  @ApiOperation({ summary: 'Ingest an event; planning happens asynchronously' })
  @ApiAcceptedResponse({ type: IngestedEventView })
  async ingest(@CurrentPrincipal() principal: Principal, @Body() body: IngestEventDto): Promise<IngestedEventView> {
    return this.events.ingest(principal, body);
  }
}
