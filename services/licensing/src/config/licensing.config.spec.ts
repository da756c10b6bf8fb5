import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { generateLicenseKeyPair } from '../license/license-key';
import { loadLicensingConfig, loadLicensingDatabaseConfig } from './licensing.config';

describe('licensing configuration', () => {
  const { publicKeyBase64 } = generateLicenseKeyPair();

  it('applies the documented defaults', () => {
    const config = loadLicensingConfig({ LICENSE_PUBLIC_KEY: publicKeyBase64 });
    assert.equal(config.HTTP_PORT, 3003);
    assert.equal(config.LICENSE_PUBLIC_KEY.asymmetricKeyType, 'ed25519');
    assert.equal(config.LICENSE_KEY, undefined);
    assert.equal(config.LICENSE_OVERAGE_POLICY, 'refuse');
    assert.equal(config.LICENSE_OVERAGE_GRACE_DAYS, 30);
    assert.deepEqual(config.LICENSE_EXPIRING_DAYS, [30]);
    assert.equal(config.SEAT_STALE_AFTER_DAYS, 30);
    assert.equal(config.LICENSE_CHECK_INTERVAL_MS, 3_600_000);
    assert.equal(config.SEAT_SWEEP_INTERVAL_MS, 3_600_000);
  });

  it('reads thresholds as a list, largest first, and an empty LICENSE_KEY as none', () => {
    const config = loadLicensingConfig({ LICENSE_PUBLIC_KEY: publicKeyBase64, LICENSE_EXPIRING_DAYS: ' 7, 30,1,7 ', LICENSE_KEY: '  ', LICENSE_OVERAGE_POLICY: 'allow' });
    assert.deepEqual(config.LICENSE_EXPIRING_DAYS, [30, 7, 1]);
    assert.equal(config.LICENSE_KEY, undefined);
    assert.equal(config.LICENSE_OVERAGE_POLICY, 'allow');
  });

  it('names every bad variable', () => {
    assert.throws(
      () => loadLicensingConfig({ LICENSE_PUBLIC_KEY: 'bm90IGEga2V5', LICENSE_EXPIRING_DAYS: '30,soon', LICENSE_OVERAGE_POLICY: 'maybe', SEAT_STALE_AFTER_DAYS: '0' }),
      (error: Error) => {
        assert.match(error.message, /LICENSE_PUBLIC_KEY: not a public key in PEM or base64 DER/);
        assert.match(error.message, /LICENSE_EXPIRING_DAYS: give whole days/);
        assert.match(error.message, /LICENSE_OVERAGE_POLICY/);
        assert.match(error.message, /SEAT_STALE_AFTER_DAYS/);
        return true;
      },
    );
    assert.throws(() => loadLicensingConfig({}), /LICENSE_PUBLIC_KEY: give the Ed25519 public key/);
  });

  it('gives the migrate command its database without any license setting', () => {
    assert.equal(loadLicensingDatabaseConfig({ DATABASE_URL: 'postgres://x@h/db' }).DATABASE_URL, 'postgres://x@h/db');
  });
});
