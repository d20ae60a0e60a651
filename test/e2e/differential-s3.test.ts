/**
 * differential.test.ts with the volume in the test Swift through the s3 API (test/support/backends.ts):
 * the same tests, another backend. Skipped only when PFS_TEST_SWIFT=0 says so.
 */
import { test } from 'node:test';
import { swiftSkip } from '../support/swift.js';

const skip = swiftSkip();
if (skip) {
  test('differential against the s3 backend', { skip }, () => {});
} else {
  process.env.PFS_TEST_BACKEND = 's3';
  await import('./differential.test.js');
}
