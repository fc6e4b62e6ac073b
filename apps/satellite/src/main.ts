import { runSatellite } from './program';

runSatellite(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stdin: process.stdin,
  onStop: (stop) => {
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  },
})
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`marvain-satellite: ${String(error)}\n`);
    process.exit(1);
  });
