process.stdout.write('cli placeholder until the CLI lands in this change\n');
