import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

/**
 * Debian's chromium, driven by playwright-core (which downloads no browser of its own): at
 * CHROMIUM_PATH when set, else /usr/bin/chromium, else `chromium` found on the PATH. `.ci/run`
 * installs the package; without it the test fails saying so.
 */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  for (const path of candidates) if (existsSync(path)) return path;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium found: install the OS package (apt-get install --no-install-recommends chromium) or set CHROMIUM_PATH');
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI) chromium refuses its sandbox; /dev/shm in containers is small.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A laptop screen: the size the console is laid out for. */
export const LAPTOP_VIEWPORT = { width: 1366, height: 768 };
