#!/usr/bin/env node
/** The tsgpt command's entry point (package.json's "bin"); everything else is in tsgpt.ts. */
import { runTsgpt } from './tsgpt.js';

runTsgpt(process.argv.slice(2));
