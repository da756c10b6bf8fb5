#!/usr/bin/env node
// Module boundaries: services, agents and apps (the admin CLI) depend on libs, never on each other;
// libs never depend on a service, an agent or an app. Checked on the declared dependencies and on
// every import in the sources.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaces = ['libs', 'services', 'agents', 'apps', 'tests'].flatMap((top) =>
  readdirSync(join(root, top))
    .map((name) => join(top, name))
    .filter((dir) => statSync(join(root, dir, 'package.json'), { throwIfNoEntry: false })),
);
const kindOf = new Map(workspaces.map((dir) => [JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name, dir.split('/')[0]]));
/** What each kind may depend on: tests (end to end) may use anything. */
const allowed = { libs: ['libs'], services: ['libs'], agents: ['libs'], apps: ['libs'], tests: ['libs', 'services', 'agents', 'apps', 'tests'] };

const problems = [];
const sources = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
for (const dir of workspaces) {
  const kind = dir.split('/')[0];
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  const check = (dep, where) => {
    const target = kindOf.get(dep);
    if (target && dep !== pkg.name && !allowed[kind].includes(target)) problems.push(`${where}: ${pkg.name} (${kind}) must not depend on ${dep} (${target})`);
  };
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) check(dep, `${dir}/package.json`);
  for (const file of sources(join(root, dir))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(@fleetcast\/[a-z0-9-]+)/g)) check(m[1], file.slice(root.length));
    if (kind !== 'tests' && /from '\.\.\/\.\.\/(services|agents|apps)\//.test(readFileSync(file, 'utf8'))) problems.push(`${file.slice(root.length)}: imports another workspace by path`);
  }
}
if (problems.length) {
  console.error(`module boundaries broken:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`module boundaries hold (${workspaces.length} workspaces)`);
