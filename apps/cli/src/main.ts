import 'reflect-metadata';
import { runCli } from './program';

runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
})
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`marvain: ${String(error)}\n`);
    process.exit(1);
  });
