import { Command, CommanderError } from 'commander';
import { MARVAIN_VERSION } from '@marvain/contracts';
import { defaultConfigFile, initConfig, SatelliteConfigError, stateFileFor, webSocketUrl } from './config';
import { SatelliteDaemon } from './daemon';
import { SatelliteLog } from './log';
import { formatStatus, satelliteStatus } from './status';

export interface SatelliteIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  /** Registers what SIGINT/SIGTERM do. */
  onStop: (stop: (signal: string) => void) => void;
}

/** Runs `marvain-satellite` and returns its exit code. */
export async function runSatellite(argv: readonly string[], io: SatelliteIo): Promise<number> {
  let exitCode = 0;
  const configFile = (given: string | undefined): string => given ?? defaultConfigFile(io.env);
  const program = new Command('marvain-satellite')
    .description('The Marvain satellite daemon: a device that connects to a hub, reports in, and runs its commands.')
    .version(MARVAIN_VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();

  program
    .command('init')
    .description('Write the config file (JSON, mode 0600): the hub, the device token, the space')
    .requiredOption('--hub-url <url>', "the hub's URL (http, https, ws or wss)")
    .requiredOption('--token <token>', "the device's token (marvain devices add-remote prints it)")
    .option('--space-id <id>', 'the space this satellite is in')
    .option('--config <file>', `the config file (default ${defaultConfigFile(io.env)})`)
    .option('--force', 'replace an existing config (its commands and settings are kept)', false)
    .action((options: { hubUrl: string; token: string; spaceId?: string; config?: string; force: boolean }) => {
      const file = configFile(options.config);
      const config = initConfig(file, {
        hubUrl: options.hubUrl,
        token: options.token,
        force: options.force,
        ...(options.spaceId !== undefined ? { spaceId: options.spaceId } : {}),
      });
      io.out(
        [
          `Wrote ${file} (mode 0600).`,
          `  hub:   ${config.hub_url} (WebSocket ${webSocketUrl(config.hub_url)})`,
          `  space: ${config.space_id ?? '(none: typed lines are refused until one is set)'}`,
          `  local commands the hub may run: ${Object.keys(config.commands).join(', ') || 'none (list them under "commands")'}`,
          `Start it with: marvain-satellite run${options.config ? ` --config ${file}` : ''}`,
          '',
        ].join('\n'),
      );
    });

  program
    .command('run')
    .description('Run the daemon: connect, heartbeat, resume, send typed lines, answer commands (Ctrl-C stops)')
    .option('--config <file>', `the config file (default ${defaultConfigFile(io.env)})`)
    .option('--verbose', 'log every frame sent and received', false)
    .option('--no-stdin', 'do not read lines from stdin')
    .action(async (options: { config?: string; verbose: boolean; stdin: boolean }) => {
      const file = configFile(options.config);
      const daemon = new SatelliteDaemon({
        configFile: file,
        stateFile: stateFileFor(file),
        log: new SatelliteLog(io.err),
        out: io.out,
        verbose: options.verbose,
      });
      io.onStop((signal) => daemon.stop(signal));
      const running = daemon.run();
      if (options.stdin) {
        daemon.attachInput(io.stdin);
      }
      exitCode = await running;
    });

  program
    .command('status')
    .description('Whether the daemon runs and is connected, its last heartbeat, queued lines, last seq per agent')
    .option('--config <file>', `the config file (default ${defaultConfigFile(io.env)})`)
    .option('--json', 'print the status as JSON', false)
    .action((options: { config?: string; json: boolean }) => {
      const file = configFile(options.config);
      const status = satelliteStatus(file, stateFileFor(file));
      io.out(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof SatelliteConfigError) {
      io.err(`marvain-satellite: ${error.message}\n`);
      return error.exitCode;
    }
    io.err(`marvain-satellite: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
