/** The placeholder in a package's install arguments that stands for the cached package file. */
export const PACKAGE_PATH_TOKEN = '{package}';

/**
 * Replaces every `{package}` in the arguments with the cached file's path (also inside an argument,
 * as in `--source={package}`). Arguments go to the process as a list, never through a shell, so a
 * path with spaces or quotes needs no escaping.
 */
export function expandInstallArgs(args: readonly string[], packagePath: string): string[] {
  return args.map((arg) => arg.split(PACKAGE_PATH_TOKEN).join(packagePath));
}
