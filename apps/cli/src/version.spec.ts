import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cli } from './testing/run-cli';

describe('marvain --version', () => {
  it('prints the version of the root package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      expect(await cli([flag])).toEqual({ code: 0, out: `${version}\n`, err: '' });
    }
  });
});
