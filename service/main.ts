#!/usr/bin/env node
/**
 * The `inframeter` entry point: sets the heap flags of `inframeter run` (which may re-execute
 * Node.js with them) before the command line and everything it loads.
 */
import { applyHeapFlags } from './heap-flags.ts';

applyHeapFlags();
await import('./cli.ts');
