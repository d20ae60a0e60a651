/**
 * Object-store tokens checked at Mount and periodically, for a swift:// volume in the test Swift
 * (token-checks.ts). Skipped only when PFS_TEST_SWIFT=0 says so.
 */
import { test } from 'node:test';
import { swiftSkip } from '../support/swift.js';
import { tokenTests } from './token-checks.js';

const skip = swiftSkip();
if (skip) test('object-store tokens of a swift volume', { skip }, () => {});
else tokenTests('swift');
