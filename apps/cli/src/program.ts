import { Command, CommanderError, Option } from 'commander';
import { CliError, ExitCode } from './errors';
import { CliContext, CliIo, CommonOptions } from './commands/cli-context';
import { listDevices, listSubnets, listWebhooks, showActivation } from './commands/inventory.command';
import { login } from './commands/login.command';
import { plan, wanSavings } from './commands/plans.command';
import { DEFAULT_UPLOAD_RETRIES, deletePackage, listPackages, showPackage, uploadPackage } from './commands/packages.command';
import { collect, parseIntOption, parseSecondsOption } from './commands/requests';
import { cancelTask, createTask, listTasks, retryTask, showTask } from './commands/tasks.command';

export const CLI_VERSION = '0.1.0';

type Action = (ctx: CliContext, ...args: any[]) => Promise<number>;

/**
 * The `fleetcast` command line. Each command's action only turns options into a call of a command
 * module; the exit code comes back from it, or from the error it threw (see ExitCode).
 */
export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('fleetcast')
    .description('Administer a Fleetcast control plane: packages, tasks, devices.')
    .version(CLI_VERSION)
    // Root options only before the command: `packages upload --version 2.4` is the package's version.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', ROOT_HELP);

  /** A command with the options every command takes, whose action runs `run` with a context. */
  const leaf = (parent: Command, name: string, description: string, examples: string[], run: Action): Command => {
    const cmd = parent
      .command(name)
      .description(description)
      .option('--json', "print the API's JSON only (nothing else on stdout)")
      .option('--config <file>', 'config file (default $XDG_CONFIG_HOME/fleetcast/config.json)');
    if (examples.length) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    cmd.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      const options = self.opts() as CommonOptions & Record<string, unknown>;
      const positional = args.slice(0, -2);
      setExitCode(await run(new CliContext(io, options), ...positional, options));
    });
    return cmd;
  };
  leaf(
    program,
    'login',
    'check an API token against a server and save both (mode 0600)',
    ['fleetcast login --server https://fleetcast.example.com --token fct_3q2m...', 'printf %s "$TOKEN" | fleetcast login --server https://fleetcast.example.com --token-stdin'],
    async (ctx, options) => login(ctx, { ...options, stdinToken: options.tokenStdin ? await readStdin() : undefined }),
  )
    .option('--server <url>', "the gateway's URL")
    .option('--token <token>', 'an API token (fct_...)')
    .option('--token-stdin', 'read the token from standard input (keeps it out of the shell history)');

  const packages = program.command('packages').description('packages: upload, list, show, delete');
  leaf(
    packages,
    'upload <file>',
    'create a package and upload its file, resumably (SHA-256 first, then streamed with progress, rate and ETA)',
    [
      'fleetcast packages upload ./agent-2.4.msi --name agent --version 2.4 --platform windows --install-command msiexec --arg /i --arg agent-2.4.msi --arg /qn',
      'fleetcast packages upload ./tool.sh --name tool --version 1.0 --platform linux --install-command /bin/sh --arg -c --arg \'sh "$FLEETCAST_PACKAGE_PATH"\'',
      'fleetcast packages upload ./agent-2.4.msi --resume   # after the CLI was stopped: go on where the server stands',
      'fleetcast packages upload ./tool.sh --package pkg-42     # upload to a package that awaits its content',
    ],
    (ctx, file, options) => uploadPackage(ctx, file, options),
  )
    .option('--name <name>', 'package name')
    .option('--version <version>', 'package version')
    .addOption(new Option('--platform <platform>', 'platform it installs on').choices(['windows', 'macos', 'linux']))
    .option('--install-command <command>', 'the program the agent runs to install it (the file is in $FLEETCAST_PACKAGE_PATH)')
    .option('--arg <arg>', 'an argument of the install command (repeat for more, in order)', collect)
    .option('--success-exit-code <code>', 'an exit code that means success (repeat; default 0)', (v: string, prev?: number[]) => [...(prev ?? []), parseIntOption('--success-exit-code', -2147483648, 2147483647)(v)])
    .option('--timeout-seconds <n>', 'longest the install may run (default 3600)', parseIntOption('--timeout-seconds', 1, 86_400))
    .option('--confidential', 'encrypt the content per block before it leaves the origin; only targeted devices get the key')
    .option('--package <id>', 'upload to this existing package (awaiting content) instead of creating one')
    .option('--resume', 'resume the unfinished upload of this file remembered from an earlier run, or fail (without it, one is resumed when remembered)')
    .option('--no-resume', 'start over even if an unfinished upload of this file is remembered')
    .option('--retries <n>', `tries after a network error or server restart, each resumed where the server stands (default ${DEFAULT_UPLOAD_RETRIES})`, parseIntOption('--retries', 0, 1000))
    .addHelpText(
      'after',
      'An interrupted upload resumes where it stopped: after a network error by itself (--retries), after the CLI was\n' +
        'stopped by running the same command again. Unfinished uploads are remembered in uploads.json next to the config\n' +
        "file (mode 0600); the server removes one left alone longer than its UPLOAD_TTL_SECONDS (a day by default).\n",
    );
  pageOptions(
    leaf(
      packages,
      'list',
      'list packages, newest first, with filters',
      ['fleetcast packages list', 'fleetcast packages list --name agent --status ready', 'fleetcast packages list --created-after 2025-06-01 --json | jq -r ".items[].id"'],
      listPackages,
    )
      .option('--name <text>', 'only packages whose name contains this (any case)')
      .addOption(new Option('--status <status>', 'only packages in this state').choices(['awaiting-content', 'ready']))
      .option('--created-after <time>', 'only packages created at or after this time (ISO 8601, or a date)')
      .option('--created-before <time>', 'only packages created before this time'),
  );
  leaf(packages, 'show <id>', 'show a package', ['fleetcast packages show pkg-42'], showPackage);
  leaf(
    packages,
    'delete <id>',
    'delete a package: refused while a task not yet completed uses it; its content leaves the origin and, at their next scan, the caches',
    ['fleetcast packages delete pkg-42', 'fleetcast packages delete pkg-42 --json'],
    deletePackage,
  );

  const tasks = program.command('tasks').description('tasks: create, watch, list, show');
  watchOptions(
    leaf(
      tasks,
      'create',
      'create a task for devices (by ID or by an inventory query)',
      [
        'fleetcast tasks create --package pkg-42 --action install --device dev-1 --device dev-2 --watch',
        'fleetcast tasks create --package pkg-42 --action cache-only --platform windows --subnet 10.1.2.0/24',
        'fleetcast tasks create --package pkg-42 --action install --hostname-prefix kiosk- --start-at 2025-06-01T22:00:00Z',
      ],
      createTask,
    )
      .option('--package <id>', 'the package to distribute')
      .addOption(new Option('--action <action>', 'install it, or only cache it on the devices').choices(['install', 'cache-only']))
      .option('--device <id>', 'a target device (repeat for more)', collect)
      .addOption(new Option('--platform <platform>', 'query: devices of this platform').choices(['windows', 'macos', 'linux']))
      .option('--subnet <cidr>', 'query: devices in this subnet (e.g. 10.1.2.0/24)')
      .option('--hostname-prefix <prefix>', 'query: devices whose hostname starts so')
      .option('--include-stale', 'query: devices not seen lately too')
      .option('--profile <id>', 'a settings profile for this task only')
      .option('--name <name>', 'a name for the task')
      .option('--start-at <time>', 'start then (ISO 8601) rather than now'),
  );
  pageOptions(leaf(tasks, 'list', 'list tasks, newest first', ['fleetcast tasks list'], listTasks));
  watchOptions(leaf(tasks, 'show <id>', "show a task with its devices' states and bytes by source", ['fleetcast tasks show task-7', 'fleetcast tasks show task-7 --watch --interval 5'], showTask));
  leaf(
    tasks,
    'cancel <id>',
    'cancel a task: its unfinished devices stop (download, LAN session, pending install), remove partial downloads and report cancelled',
    ['fleetcast tasks cancel task-7', 'fleetcast tasks cancel task-7 --json | jq .summary.counts'],
    (ctx, id) => cancelTask(ctx, id),
  );
  watchOptions(
    leaf(
      tasks,
      'retry <id>',
      "retry a task's failed devices (all of them, or those given): each gets a new attempt",
      ['fleetcast tasks retry task-7', 'fleetcast tasks retry task-7 --devices dev-3,dev-9 --watch', 'fleetcast tasks retry task-7 --json | jq -r ".retried[]"'],
      (ctx, id, options) => retryTask(ctx, id, options),
    ).option('--devices <ids>', 'only these failed devices (comma-separated, or repeat)', collect),
  );

  const devices = program.command('devices').description('devices in the inventory');
  pageOptions(
    leaf(devices, 'list', 'list devices', ['fleetcast devices list --platform linux', 'fleetcast devices list --unsupported'], listDevices)
      .addOption(new Option('--platform <platform>', 'only this platform').choices(['windows', 'macos', 'linux']))
      .option('--subnet <cidr>', 'only devices in this subnet')
      .option('--stale', 'only devices not seen lately')
      .option('--unsupported', 'only devices whose agent version is unsupported (kept out of distribution)'),
  );
  const subnets = program.command('subnets').description('subnets derived from the inventory');
  pageOptions(leaf(subnets, 'list', 'list subnets with their device counts, IPv4 first in address order', ['fleetcast subnets list', 'fleetcast subnets list --limit 50 --offset 100'], listSubnets));
  const webhooks = program.command('webhooks').description('webhook subscriptions');
  pageOptions(leaf(webhooks, 'list', 'list webhook subscriptions (never their secrets)', ['fleetcast webhooks list --json'], listWebhooks));
  const activation = program.command('activation').description('activation of the configuration');
  leaf(activation, 'show [id]', 'show the latest activation (or one), step by step', ['fleetcast activation show', 'fleetcast activation show act-3 --json'], (ctx, id) => showActivation(ctx, id));
  leaf(
    program,
    'plan',
    'what-if: WAN bytes and time to complete per subnet and office, with and without multicast and peers (nothing is created)',
    [
      'fleetcast plan --package pkg-42 --targets dev-1,dev-2,dev-3',
      'fleetcast plan --package pkg-42 --subnet 10.1.2.0/24 --no-multicast',
      'fleetcast plan --package pkg-42 --platform windows --profile prof-night --start-delay-seconds 0 --json | jq .withSharing',
    ],
    plan,
  )
    .option('--package <id>', 'the package to distribute (its size counts)')
    .option('--targets <ids>', 'target device IDs, comma-separated (repeat for more)', collect)
    .option('--device <id>', 'a target device (repeat for more)', collect)
    .addOption(new Option('--platform <platform>', 'query: devices of this platform').choices(['windows', 'macos', 'linux']))
    .option('--subnet <cidr>', 'query: devices in this subnet (e.g. 10.1.2.0/24)')
    .option('--hostname-prefix <prefix>', 'query: devices whose hostname starts so')
    .option('--include-stale', 'query: devices not seen lately too')
    .option('--profile <id>', 'the settings profile the task would have (default: the default profile)')
    .option('--no-multicast', 'plan as if the settings did not use multicast')
    .option('--start-delay-seconds <n>', 'the session start delay to plan with', parseIntOption('--start-delay-seconds', 0, 3600))
    .option('--lan-rate-kbps <n>', 'the LAN rate limit to plan with, kbit/s', parseIntOption('--lan-rate-kbps', 1))
    .option('--default-wan-kbps <n>', "each subnet's WAN bandwidth when the server has no topology, kbit/s", parseIntOption('--default-wan-kbps', 1, 100_000_000));

  const reports = program.command('reports').description('fleet-wide reports');
  leaf(
    reports,
    'wan-savings',
    'bytes delivered from multicast and peers versus from the origin, per subnet or office, over a time range (default: the last 30 days)',
    ['fleetcast reports wan-savings --from 2026-11-01 --to 2026-12-01', 'fleetcast reports wan-savings --group-by office --json | jq .totals'],
    wanSavings,
  )
    .option('--from <time>', 'start of the range (ISO 8601; counted by the hour)')
    .option('--to <time>', 'end of the range, exclusive (default now)')
    .addOption(new Option('--group-by <what>', 'one row per subnet or per office of the topology').choices(['subnet', 'office']).default('subnet'));
  return program;
}

/**
 * Runs the command line and returns the exit code: 0, 1 (a failure the server reported, failed
 * devices), 2 (usage, or a command this server does not support), 3 (server unreachable).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version asked for are a success; any other complaint of the parser is a usage error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.Ok : ExitCode.Usage;
    }
    if (error instanceof CliError) {
      io.stderr.write(`fleetcast: ${error.code}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(`fleetcast: ${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.Failure;
  }
}

function pageOptions(cmd: Command): Command {
  return cmd
    .option('--limit <n>', 'at most this many (1-1000, default 100)', parseIntOption('--limit', 1, 1000))
    .option('--offset <n>', 'skip this many', parseIntOption('--offset', 0));
}

function watchOptions(cmd: Command): Command {
  return cmd
    .option('--watch', "follow the devices' states live until every one succeeded, failed or was cancelled (exit 1 when any failed or was cancelled)")
    .option('--interval <seconds>', 'seconds between polls while watching, when the server offers no live updates (default 2)', parseSecondsOption('--interval', 0.1))
    .option('--timeout <seconds>', 'stop watching after this long, with exit code 1', parseSecondsOption('--timeout', 1));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const ROOT_HELP = `
The server and token come from \`fleetcast login\` (saved in $XDG_CONFIG_HOME/fleetcast/config.json,
mode 0600); FLEETCAST_SERVER and FLEETCAST_TOKEN override them. Every command takes --json.
Exit codes: 0 done, 1 failed (the server's error, or failed devices), 2 usage, 3 server unreachable.

Examples:
  $ fleetcast login --server https://fleetcast.example.com --token fct_3q2m...
  $ fleetcast packages upload ./tool.sh --name tool --version 1.0 --platform linux --install-command /bin/sh --arg ./tool.sh
  $ fleetcast tasks create --package pkg-42 --action install --subnet 10.1.2.0/24 --watch
  $ fleetcast devices list --json | jq '.items[].hostname'
  $ fleetcast plan --package pkg-42 --subnet 10.1.2.0/24
`;
