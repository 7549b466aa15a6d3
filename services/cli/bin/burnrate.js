#!/usr/bin/env node
// Runs on the Node 24 the project pins (npm puts node_modules/.bin first on PATH), which loads
// TypeScript directly.
import '../src/main.ts';
