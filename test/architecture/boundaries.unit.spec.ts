import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkFile, checkTree, importsOf, untaggedProjects, workspaceProjects } from './boundaries';

const ROOT = join(import.meta.dirname, '../..');

describe('module boundaries', () => {
  it('the repository respects every rule', () => {
    const v = checkTree(ROOT);
    assert.deepEqual(v, [], v.map((x) => `${x.file}: ${x.specifier} (${x.rule})`).join('\n'));
  });

  it('every Nx project has a scope and a type tag', () => {
    assert.deepEqual(untaggedProjects(ROOT), []);
  });

  it('finds the imports of a file', () => {
    const src = `import a from 'x';\nimport { b } from "@y/z";\nexport * from './w';\nconst c = await import('q');\nimport 'side';`;
    assert.deepEqual(importsOf(src).sort(), ['./w', '@y/z', 'q', 'side', 'x']);
  });

  it('catches a shared library importing a service, by the Nx tags of the projects', () => {
    const projects = workspaceProjects(ROOT);
    const v = checkFile('shared/eventstore/src/x.ts', `import { y } from '@vnet/gateway';`, projects);
    assert.ok(v.some((x) => x.rule === 'a shared library never imports a service'));
    assert.ok(v.some((x) => x.rule.startsWith('scope:shared depends only on scope:shared')));
    const c = checkFile('shared/events/src/x.ts', `import { EventStore } from '@vnet/eventstore';`, projects);
    assert.ok(c.some((x) => x.rule.startsWith('type:contracts depends only on type:contracts')));
  });

  it('catches @nats-io outside the event store', () => {
    assert.equal(checkFile('services/gateway/src/adapters/x.ts', `import { connect } from '@nats-io/transport-node';`).length, 1);
    assert.equal(checkFile('shared/eventstore/src/x.ts', `import { connect } from '@nats-io/transport-node';`).length, 0);
  });

  it('catches I/O in domain code', () => {
    assert.equal(checkFile('services/gateway/src/domain/x.ts', `import { readFileSync } from 'node:fs';`)[0]?.rule, 'domain code imports no I/O library');
    assert.equal(checkFile('services/gateway/src/domain/x.ts', `import { EventStore } from '@vnet/eventstore';`).length, 1);
    assert.equal(checkFile('shared/events/src/x.ts', `import fastify from 'fastify';`).length, 1);
    assert.equal(checkFile('services/gateway/src/adapters/x.ts', `import { readFileSync } from 'node:fs';`).length, 0);
  });
});
