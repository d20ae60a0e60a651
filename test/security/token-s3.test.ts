/**
 * Object-store tokens checked at Mount and periodically, for a s3:// volume in the test Swift
 * (token-checks.ts). Skipped only when PFS_TEST_SWIFT=0 says so.
 */
import { test } from 'node:test';
import { swiftSkip } from '../support/swift.js';
import { tokenTests } from './token-checks.js';

const skip = swiftSkip();
if (skip) test('object-store tokens of a s3 volume', { skip }, () => {});
else tokenTests('s3');
