#!/usr/bin/env node
// `npm start`: build the hub bundle, then run it in this process (the local runtime).
import { createRequire } from 'node:module';
import { bundle } from './bundle.mjs';

const outfile = await bundle('hub');
createRequire(import.meta.url)(outfile);
