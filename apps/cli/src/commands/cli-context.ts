import { FleetcastApi, REQUEST_TIMEOUT_MS } from '../api/api-client';
import { fetchStreamRequest } from '../api/stream-request';
import { CliEnv, configPathOf, resolveConnection } from '../config/cli-config';
import { readConfigFile } from '../config/config-file';
import type { ProgressStream } from '../progress/progress-display';

/** Everything a command touches outside itself, handed in so that tests can run commands in-process. */
export interface CliIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: CliEnv;
  homeDir: string;
  now(): number;
  sleep(ms: number): Promise<void>;
  fetch?: typeof fetch;
}

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
  config?: string;
}

/**
 * One command's run: where its output goes and how it reaches the server. Results go to stdout
 * (the API's JSON alone with `--json`); progress and notes go to stderr, so a pipe gets only data.
 */
export class CliContext {
  constructor(
    readonly io: CliIo,
    readonly options: CommonOptions,
  ) {}

  get json(): boolean {
    return this.options.json === true;
  }

  get configPath(): string {
    return configPathOf(this.options.config, this.io.env, this.io.homeDir);
  }

  /** The API client of the configured server (the config file, overridden by the environment). */
  async api(): Promise<FleetcastApi> {
    const path = this.configPath;
    const connection = resolveConnection(await readConfigFile(path), this.io.env, path);
    return this.apiFor(connection.server, connection.token);
  }

  apiFor(server: string, token: string): FleetcastApi {
    // A fetch handed in (tests) sees every request, uploads too; otherwise uploads use Node's http client.
    return this.io.fetch ? new FleetcastApi(server, token, this.io.fetch, REQUEST_TIMEOUT_MS, fetchStreamRequest(this.io.fetch)) : new FleetcastApi(server, token);
  }

  /** The result: the API's JSON with `--json`, else the text for a person. */
  result(json: unknown, human: () => string): void {
    this.io.stdout.write(this.json ? `${JSON.stringify(json, null, 2)}\n` : `${human()}\n`);
  }

  /** A note for a person (stderr): never mixed into a result a script parses. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}
