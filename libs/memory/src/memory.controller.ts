import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import { ListMemoriesQuery, MemoryList } from './memory.dto';
import { MemoryService } from './memory.service';

@ApiTags('memories')
@ApiBearerAuth()
@Controller('v1/memories')
export class MemoryController {
  constructor(private readonly memories: MemoryService) {}

  @Get()
  @RequireScope('memories:read')
  @ApiOperation({ summary: "List an agent's memories, newest first (never with embeddings)" })
  @ApiOkResponse({ type: MemoryList })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListMemoriesQuery): Promise<MemoryList> {
    return this.memories.list(principal, query);
  }
}
