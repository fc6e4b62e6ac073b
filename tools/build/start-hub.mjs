#!/usr/bin/env node
// `npm start`: build the hub bundle (and the satellite daemon the hub serves at
// /v1/satellite/marvain-satellite.cjs), then run the hub in this process (the local runtime).
import { createRequire } from 'node:module';
import { bundle } from './bundle.mjs';

const [outfile] = await Promise.all([bundle('hub'), bundle('satellite')]);
createRequire(import.meta.url)(outfile);
