#!/usr/bin/env node
/** Removes dist/ before a full build, so a test or module that was moved or deleted never runs from a stale copy. */
import { rmSync } from 'node:fs';

rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
