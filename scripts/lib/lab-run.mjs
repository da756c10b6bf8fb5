// What the scripts that run a distribution in a network lab share (scripts/lab.mjs, scripts/plan-check.mjs):
// the check that the workspace is built, and one run's lifetime: whatever it made (the lab, the stack,
// a database, a work directory) is removed at its end, on failure and on Ctrl-C.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Exits with a clear message when a compiled file the script needs is missing. */
export function requireBuilt(root, files) {
  const missing = files.filter((file) => !existsSync(join(root, file)));
  if (missing.length > 0) {
    console.error(`the workspace is not built (missing ${missing.join(', ')}); run "npm run build" first`);
    process.exit(1);
  }
}

/**
 * Runs `main(run)` and exits with the status it returns. `main` records what it makes on `run`
 * (`lab`, `stack`, `db`, `work`); the cleanup removes those, idempotently: the normal end, a failure
 * and a signal may all ask for it. Ctrl-C: the lab's and the harness's own hooks kill what runs at
 * once; this then drops the database and the files and exits with the signal's status. A second
 * Ctrl-C exits at once.
 */
export function runInLab({ testing, spec, specPath, say, keepFiles = false, main }) {
  const run = { lab: undefined, stack: undefined, db: undefined, work: undefined };
  let cleaning;
  const cleanup = () => {
    cleaning ??= (async () => {
      await run.stack?.stop().catch((error) => say(`stopping the stack: ${error.message}`));
      await testing.stopAll().catch(() => undefined);
      // A build that fails halfway removes its own part (and its signal hooks the rest); only a lab
      // this run got is destroyed here, never one of the same name that was up before.
      if (run.lab) await run.lab.destroy().catch((error) => say(`removing the lab: ${error.message}`));
      await run.db?.drop().catch((error) => say(`dropping database ${run.db.name}: ${error.message}`));
      if (run.work && !keepFiles) await rm(run.work, { recursive: true, force: true });
      else if (run.work) say(`kept logs, agent states and caches in ${run.work}`);
      if (!run.lab) return;
      const left = await testing.listLabResources(spec.name);
      if (left.namespaces.length + left.links.length + left.nftTables.length > 0) say(`left behind: ${JSON.stringify(left)}; remove with: node libs/netlab/dist/cli.js down --spec ${specPath}`);
      else say(`lab ${spec.name} removed`);
    })();
    return cleaning;
  };
  const signals = tearDownOnSignals(cleanup, say);
  main(run)
    .catch((error) => {
      console.error(error instanceof Error ? (error.code ? `${error.code}: ${error.message}` : error.stack) : String(error));
      return 1;
    })
    .then(async (code) => {
      if (signals.interrupted) return;
      await cleanup();
      process.exit(code);
    });
}

/**
 * On Ctrl-C (and SIGTERM, SIGHUP): says so, runs `cleanup`, exits with the signal's status; a second
 * signal exits at once. `interrupted` tells the script's own end not to clean up again.
 */
export function tearDownOnSignals(cleanup, say) {
  const state = { interrupted: false };
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(signal, () => {
      if (state.interrupted) process.exit(128 + number);
      state.interrupted = true;
      say(`${signal}: tearing down`);
      void cleanup().finally(() => process.exit(128 + number));
    });
  }
  return state;
}
