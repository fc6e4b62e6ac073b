import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Controller, Get, Headers, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { HubConfig, Public } from '@marvain/platform';

export const SATELLITE_FILE = 'marvain-satellite.cjs';

interface Loaded {
  file: string;
  mtimeMs: number;
  body: Buffer;
  etag: string;
}

/**
 * The satellite daemon's one-file build, so a remote machine installs it with one `curl` from
 * its hub (`marvain devices add-remote` prints the line). Public: it holds no secret, and the
 * device token is given to `init` separately.
 */
@ApiTags('satellite')
@Controller('v1/satellite')
export class SatelliteDownloadController {
  private loaded: Loaded | null = null;

  constructor(private readonly config: HubConfig) {}

  /** Where the build is looked for: the configured file, else beside this bundle, else the working folder's dist/. */
  private candidates(): string[] {
    if (this.config.satelliteBundle) {
      return [this.config.satelliteBundle];
    }
    return [
      path.join(__dirname, 'satellite', SATELLITE_FILE),
      path.join(__dirname, '..', 'satellite', SATELLITE_FILE),
      path.join(process.cwd(), 'dist', 'satellite', SATELLITE_FILE),
    ];
  }

  private async load(): Promise<Loaded> {
    for (const file of this.candidates()) {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) {
        continue;
      }
      if (this.loaded?.file === file && this.loaded.mtimeMs === info.mtimeMs) {
        return this.loaded;
      }
      const body = await readFile(file);
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
      this.loaded = { file, mtimeMs: info.mtimeMs, body, etag };
      return this.loaded;
    }
    throw new DomainError(
      ErrorCode.NotFound,
      'this hub has no satellite build to serve: build it with `node tools/build/bundle.mjs satellite` (npm start does), or point MARVAIN_SATELLITE_BUNDLE at one',
    );
  }

  @Get(SATELLITE_FILE)
  @Public()
  @ApiOperation({
    summary: 'The satellite daemon, one file that needs only Node ≥ 20: `node marvain-satellite.cjs --help`',
  })
  @ApiProduces('application/javascript')
  @ApiOkResponse({ description: 'the build (cacheable; ETag, If-None-Match answers 304)' })
  @ApiNotFoundResponse({ description: 'not_found: this hub has no satellite build' })
  async download(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    const { body, etag } = await this.load();
    void reply.header('etag', etag).header('cache-control', 'public, max-age=300');
    if (ifNoneMatch === etag) {
      await reply.code(304).send();
      return;
    }
    await reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('content-disposition', `attachment; filename="${SATELLITE_FILE}"`)
      .send(body);
  }
}
