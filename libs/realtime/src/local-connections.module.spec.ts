import { Test } from '@nestjs/testing';
import { PlatformModule } from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { CONNECTION_STORE } from './connection-store';
import { LocalConnectionsModule } from './local-connections.module';
import { MemoryConnectionStore } from './memory-connection-store';

describe('LocalConnectionsModule', () => {
  it('provides the memory connection store, with the platform clock', async () => {
    const module = await Test.createTestingModule({
      imports: [PlatformModule.forRoot(testHubConfig(), [LocalConnectionsModule])],
    }).compile();
    expect(module.get(CONNECTION_STORE)).toBeInstanceOf(MemoryConnectionStore);
    await module.close();
  });
});
