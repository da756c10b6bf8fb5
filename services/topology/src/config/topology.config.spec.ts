import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadTopologyConfig, loadTopologyDatabaseConfig } from './topology.config';

describe('topology configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadTopologyConfig({});
    assert.equal(config.HTTP_PORT, 3004);
    assert.equal(config.PLACEMENT_BATCH_SIZE, 500);
    assert.equal(config.DRAFT_MAX_DEVICES, 20_000);
    assert.equal(config.MIGRATE_ON_START, true);
  });

  it('names every bad variable', () => {
    assert.throws(
      () => loadTopologyConfig({ PLACEMENT_BATCH_SIZE: '0', DRAFT_MAX_DEVICES: 'many', HTTP_PORT: '70000' }),
      (error: Error) => {
        assert.match(error.message, /PLACEMENT_BATCH_SIZE/);
        assert.match(error.message, /DRAFT_MAX_DEVICES/);
        assert.match(error.message, /HTTP_PORT/);
        return true;
      },
    );
  });

  it('gives the migrate command its database alone', () => {
    assert.equal(loadTopologyDatabaseConfig({ DATABASE_URL: 'postgres://x@h/db' }).DATABASE_URL, 'postgres://x@h/db');
  });
});
