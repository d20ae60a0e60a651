/**
 * Every example's config files load (a sample that drifted from the code fails here), and the
 * ones for remote stores name a shipped plug-in that exists; an agent's ObjectStoreURL names the
 * store its volume server does.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentSchema } from '../../src/agent/config-schema.js';
import { loadConfig } from '../../src/common/config/index.js';
import { parseStoreUrl, sameStore } from '../../src/common/objectstore/index.js';
import { resolvePlugInPath } from '../../src/common/objectstore/open.js';
import { volumeServerSchema } from '../../src/volume/config-schema.js';
import { REPO } from '../support/proxyfsd.js';

const dirs = readdirSync(join(REPO, 'examples')).filter((d) => existsSync(join(REPO, 'examples', d, 'proxyfsd.conf')));

test('the examples with configs are there', () => {
  assert.deepEqual(dirs.sort(), ['local-volume', 's3-volume', 'swift-volume']);
});

for (const d of dirs) {
  test(`examples/${d}: proxyfsd.conf and pfsagentd.conf load; a remote store's plug-in exists`, () => {
    const server = loadConfig(volumeServerSchema, join(REPO, 'examples', d, 'proxyfsd.conf'), []);
    const agent = loadConfig(agentSchema, join(REPO, 'examples', d, 'pfsagentd.conf'), []);
    const volume = Object.entries(server.sections).find(([s]) => s.startsWith('Volume:'))!;
    assert.equal(agent.sections.Agent!.FUSEVolumeName, volume[0].slice('Volume:'.length));
    assert.equal(agent.sections.Agent!.RetryRPCPort, server.sections.RPCServer!.TCPPort);
    const own = agent.sections.Agent!.ObjectStoreURL as string;
    if (own) assert.ok(sameStore(parseStoreUrl(own), parseStoreUrl(volume[1].ObjectStoreURL as string)), `${d}: the agent's ObjectStoreURL ${own} is the volume's`);
    if (!String(volume[1].ObjectStoreURL).startsWith('file:')) {
      for (const keys of [volume[1], agent.sections.Agent!]) {
        const path = resolvePlugInPath(keys.PlugInPath as string);
        assert.ok(existsSync(path), `${d}: plug-in ${keys.PlugInPath} resolves to ${path}, which exists`);
      }
    }
  });
}
