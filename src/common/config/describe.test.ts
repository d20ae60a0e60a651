import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSchema, type Schema } from './index.js';

test('describeSchema renders one table per section with type, bounds, default and notes', () => {
  const schema: Schema = {
    program: 'x',
    sections: [
      {
        name: 'Volume:*', required: true, doc: 'Per volume.',
        keys: {
          Path: { type: 'path', required: true, doc: 'Where | it is.' },
          Size: { type: 'bytes', default: '1MiB', min: 65536, doc: 'How big.' },
          Blob: { type: 'string', default: '', secret: true, reserved: 'plug-ins (issue 4)', doc: 'Secret blob.' },
          Mode: { type: 'enum', default: 'off', values: ['off', 'on'], doc: 'Mode.' },
        },
      },
      { name: 'Logging', doc: 'Logs.', keys: { Wait: { type: 'duration', default: '1s', min: 1, max: 60_000, doc: 'Wait.' } } },
    ],
  };
  assert.equal(describeSchema(schema), [
    '### `[Volume:<name>]` (at least one required)',
    '',
    'Per volume.',
    '',
    '| Key | Type | Default | Effect |',
    '|---|---|---|---|',
    '| `Path` | path | *(required)* | Where \\| it is. |',
    '| `Size` | bytes, ≥ 64 KiB | `1MiB` | How big. |',
    '| `Blob` | string | *(empty)* | *Reserved for plug-ins (issue 4): parsed and validated, not used yet.* ' +
      '*Secret: shown as [REDACTED] in logs and status output.* Secret blob. |',
    '| `Mode` | enum: off, on | `off` | Mode. |',
    '',
    '### `[Logging]` (optional)',
    '',
    'Logs.',
    '',
    '| Key | Type | Default | Effect |',
    '|---|---|---|---|',
    '| `Wait` | duration, 1 ms–60000 ms | `1s` | Wait. |',
    '',
  ].join('\n'));
});
