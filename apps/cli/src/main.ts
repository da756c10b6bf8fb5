#!/usr/bin/env node
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from './program';

// A reader that went away (`fleetcast tasks list --json | head`) is no failure of the command.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

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
