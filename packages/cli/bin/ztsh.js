#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader, so the binary works from
// a checkout with no build step.
import 'reflect-metadata';
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
