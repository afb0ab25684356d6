// The sidecar's workload: the downward API labels file parser, and the namespace it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLabelsFile, readWorkload } from '../../../authz/request/workload.ts';

test('reads the kubelet\'s format: key="value" lines, prefixed keys, empty values, a final newline', () => {
  const text = 'app="orders"\napp.kubernetes.io/name="orders-api"\nempty=""\npod-template-hash="5d8f"\n';
  assert.deepEqual(parseLabelsFile(text), {
    app: 'orders',
    'app.kubernetes.io/name': 'orders-api',
    empty: '',
    'pod-template-hash': '5d8f',
  });
});

test('unescapes Go-quoted values: \\" and \\\\, and keeps = and spaces inside the quotes', () => {
  assert.deepEqual(parseLabelsFile('note="say \\"hi\\""\npath="a\\\\b"\neq="x=y z"'), { note: 'say "hi"', path: 'a\\b', eq: 'x=y z' });
});

test('skips blank lines and CRLF endings; an empty file is a workload without labels', () => {
  assert.deepEqual(parseLabelsFile('\r\napp="a"\r\n\r\n'), { app: 'a' });
  assert.deepEqual(parseLabelsFile(''), {});
});

test('refuses garbage lines with the line number', async (t) => {
  const rows: [string, RegExp][] = [
    ['app=orders', /line 1 is not key="value"/],
    ['app="orders"\ntier="api', /line 2 is not key="value"/],
    ['app="a"b"', /line 1 is not key="value"/],
    ['app="ends with \\"', /line 1 is not key="value"/],
    ['="orphan"', /line 1 is not key="value"/],
    [' app="a"', /line 1 is not key="value"/],
    ['app="a" # comment', /line 1 is not key="value"/],
    ['app="\\q"', /line 1 has an unknown escape \\q/],
    ['app="a"\napp="b"', /line 2 repeats the key "app"/],
  ];
  for (const [text, message] of rows) {
    await t.test(JSON.stringify(text), () =>
      assert.throws(
        () => parseLabelsFile(text),
        (e: unknown) => e instanceof SyntaxError && message.test(e.message),
      ),
    );
  }
});

test('a label named like an Object.prototype member is an ordinary label', () => {
  const labels = parseLabelsFile('__proto__="x"\nconstructor="y"');
  assert.equal(Object.getPrototypeOf(labels), Object.prototype);
  assert.deepEqual(Object.entries(labels), [
    ['__proto__', 'x'],
    ['constructor', 'y'],
  ]);
});

test('readWorkload: reads the file, freezes the result, and needs a DNS-1123 namespace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-labels-'));
  try {
    const file = join(dir, 'labels');
    await writeFile(file, 'app="orders"\n');
    const workload = await readWorkload(file, 'shop');
    assert.deepEqual(workload, { namespace: 'shop', labels: { app: 'orders' } });
    assert.ok(Object.isFrozen(workload) && Object.isFrozen(workload.labels));
    await assert.rejects(readWorkload(file, undefined), /workload namespace must be a DNS-1123 label/);
    await assert.rejects(readWorkload(file, 'Shop'), /workload namespace must be a DNS-1123 label/);
    await assert.rejects(readWorkload(join(dir, 'missing'), 'shop'), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
