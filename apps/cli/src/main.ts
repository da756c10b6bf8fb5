#!/usr/bin/env node
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from './program';

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  homeDir: homedir(),
  now: Date.now,
  sleep: (ms) => sleep(ms),
}).then((code) => {
  // Set, not exit(): pending writes to a pipe are flushed before the process ends.
  process.exitCode = code;
});
