/**
 * Module boundaries, checked on the source: which folder may import what. The rules:
 * - a library under shared/ never imports a service; more generally a project tagged
 *   `scope:shared` depends only on `scope:shared` projects, and a `type:contracts` project
 *   only on `type:contracts` projects (the Nx tags in each project.json are the source);
 * - domain code (any `domain/` folder, and the event catalogue) imports no I/O library;
 * - only shared/eventstore imports `@nats-io/*` (the one place that knows JetStream);
 * - every Nx project carries a `scope:*` and a `type:*` tag.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Imports a domain must not use: I/O, the network, the bus, HTTP, logging, metrics. */
export const IO_MODULES = [
  /^(node:)?(fs|fs\/promises|net|dgram|http|https|http2|child_process|cluster|tls|dns|worker_threads|readline)$/,
  /^@nats-io\//,
  /^(fastify|pino|prom-client|commander|cli-progress)(\/|$)/,
  /^@vnet\/(eventstore|natsd|service-kit)(\/|$)/,
];

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly rule: string;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The module specifiers a TypeScript file imports. */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** A workspace project: its folder, npm name and Nx tags. */
export interface Project {
  readonly root: string;
  readonly name: string;
  readonly tags: readonly string[];
}

/** The projects under shared/, services/ and infra/ (folders with package.json + project.json). */
export function workspaceProjects(root: string): Project[] {
  const out: Project[] = [];
  for (const top of ['shared', 'services', 'infra']) {
    for (const dir of readdirSync(join(root, top))) {
      try {
        const pkg = JSON.parse(readFileSync(join(root, top, dir, 'package.json'), 'utf8')) as { name: string };
        const pj = JSON.parse(readFileSync(join(root, top, dir, 'project.json'), 'utf8')) as { tags?: string[] };
        out.push({ root: `${top}/${dir}/`, name: pkg.name, tags: pj.tags ?? [] });
      } catch {
        // not a project folder (e.g. infra/nats holds only configuration)
      }
    }
  }
  return out;
}

const tagOf = (p: Project, axis: string) => p.tags.find((t) => t.startsWith(`${axis}:`));

/** Checks one file, given its path relative to the repository root. */
export function checkFile(path: string, source: string, projects: readonly Project[] = []): Violation[] {
  const p = path.split(sep).join('/');
  const out: Violation[] = [];
  const isSpec = /\.spec\.ts$/.test(p) || p.includes('/testing/') || p.includes('/scripts/') || p.includes('/__fixtures__/');
  const from = projects.find((x) => p.startsWith(x.root));
  for (const spec of importsOf(source)) {
    const to = projects.find((x) => spec === x.name || spec.startsWith(`${x.name}/`));
    if (p.startsWith('shared/') && (spec.includes('services/') || to?.root.startsWith('services/'))) {
      out.push({ file: p, specifier: spec, rule: 'a shared library never imports a service' });
    }
    if (from && to && from !== to && !isSpec) {
      if (tagOf(from, 'scope') === 'scope:shared' && tagOf(to, 'scope') !== 'scope:shared') {
        out.push({ file: p, specifier: spec, rule: `scope:shared depends only on scope:shared (${to.name} is ${tagOf(to, 'scope')})` });
      }
      if (tagOf(from, 'type') === 'type:contracts' && tagOf(to, 'type') !== 'type:contracts') {
        out.push({ file: p, specifier: spec, rule: `type:contracts depends only on type:contracts (${to.name} is ${tagOf(to, 'type')})` });
      }
    }
    if (spec.startsWith('@nats-io/') && !p.startsWith('shared/eventstore/')) {
      out.push({ file: p, specifier: spec, rule: 'only shared/eventstore imports @nats-io/*' });
    }
    const isDomain = (p.includes('/domain/') || p.startsWith('shared/events/src/')) && !isSpec;
    if (isDomain && IO_MODULES.some((re) => re.test(spec))) {
      out.push({ file: p, specifier: spec, rule: 'domain code imports no I/O library' });
    }
  }
  return out;
}

/** Every .ts file under the given top-level folders. */
export function sourceFiles(root: string, tops = ['shared', 'services', 'infra']): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts')) out.push(relative(root, full));
    }
  };
  for (const t of tops) walk(join(root, t));
  return out;
}

/** Checks the whole tree. */
export function checkTree(root: string): Violation[] {
  const projects = workspaceProjects(root);
  return sourceFiles(root).flatMap((f) => checkFile(f, readFileSync(join(root, f), 'utf8'), projects));
}

/** Nx projects without both a scope and a type tag. */
export function untaggedProjects(root: string): string[] {
  const out: string[] = [];
  for (const top of ['shared', 'services', 'infra']) {
    for (const name of readdirSync(join(root, top))) {
      const pj = join(root, top, name, 'project.json');
      try {
        const tags: string[] = JSON.parse(readFileSync(pj, 'utf8')).tags ?? [];
        if (!tags.some((t) => t.startsWith('scope:')) || !tags.some((t) => t.startsWith('type:'))) out.push(`${top}/${name}`);
      } catch {
        // not a project folder (e.g. infra/nats holds only configuration)
      }
    }
  }
  return out;
}
