/** An error the CLI reports as one line on stderr, with its exit code (2 for bad usage or input). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
