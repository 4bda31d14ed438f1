#!/usr/bin/env node
// The `wsplay` command: loads the TypeScript sources through tsx (source maps kept, so stack
// traces and debugger breakpoints point at the .ts lines), then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
