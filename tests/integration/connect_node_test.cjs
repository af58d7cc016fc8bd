// Connect-ES, the Connect project's own TypeScript client (@connectrpc/connect-node), against
// coronet-protocols-test-server over HTTP/1.1: the Connect protocol in its binary and JSON
// formats (and GET for the side-effect-free Lookup) and gRPC-Web. The client is built at run
// time from a FileDescriptorSet that protoc made of hello.proto and bench.proto: no generated
// code. Asserts results, server streams, every status code in both directions of the mapping
// (the server's code number to the client's Code), a deadline, a cancel mid-stream after which
// the server keeps serving, and response headers and trailers (a server stream's headers
// before its first message).
//
// Usage: node connect_node_test.cjs PROTOCOLS_TEST_SERVER DESCRIPTOR_SET
// NODE_PATH must reach the packages of tests/integration/node/package.json (./x test installs
// them into .tools/node/node_modules). Without them, or on Node.js before 20, exits 77
// (skipped), saying why.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const readline = require('node:readline');

function skip(why) {
  console.log('1..0 # SKIP ' + why);
  process.exit(77);
}

if (Number(process.versions.node.split('.')[0]) < 20) {
  skip('Node.js ' + process.versions.node + ' is too old: @connectrpc/connect-node 2.1 needs 20+');
}
let protobuf, wkt, connect, connectNode;
try {
  protobuf = require('@bufbuild/protobuf');
  wkt = require('@bufbuild/protobuf/wkt');
  connect = require('@connectrpc/connect');
  connectNode = require('@connectrpc/connect-node');
} catch (e) {
  skip('the Connect-ES packages are not installed (./x test runs npm ci into .tools/node/; ' +
       'NODE_PATH=' + (process.env.NODE_PATH || '') + '): ' + e.message.split('\n')[0]);
}

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createFileRegistry, fromBinary } = protobuf;
const { FileDescriptorSetSchema } = wkt;
const { Code, ConnectError, createClient, encodeBinaryHeader, decodeBinaryHeader } = connect;
const { compressionGzip, createConnectTransport, createGrpcWebTransport } = connectNode;

const [serverPath, descriptorPath] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, fs.readFileSync(descriptorPath)));
const Bench = registry.getService('coronet.bench.v1.Bench');
const HelloWorld = registry.getService('HelloWorld');
const TIMEOUT = { timeout: 20000 };

// The server, on an ephemeral port it prints as "listening on [HOST:]PORT" (or "port N").
let server;
let baseUrl;

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(serverPath, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    server.on('error', reject);
    const lines = readline.createInterface({ input: server.stdout });
    lines.once('line', (line) => {
      const match = /(?:listening on|port)\s+(?:\S*:)?(\d+)/.exec(line);
      if (!match) reject(new Error('the server did not start: ' + line));
      else resolve(Number(match[1]));
    });
    server.once('exit', (code) => reject(new Error('the server exited with ' + code)));
  });
}

function stopServer() {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    const kill = setTimeout(() => server.kill('SIGKILL'), 10000);
    server.once('exit', () => { clearTimeout(kill); resolve(); });
    server.kill('SIGTERM');  // coronet servers drain and exit on SIGTERM
  });
}

const transports = {
  'Connect, binary': () => createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
  'Connect, JSON': () => createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: false }),
  // gzip for requests and answers of 1 KiB and more (the client's default threshold)
  'Connect, JSON, gzip': () => createConnectTransport({
    baseUrl, httpVersion: '1.1', useBinaryFormat: false,
    sendCompression: compressionGzip, acceptCompression: [compressionGzip] }),
  'Connect, GET for side-effect-free methods': () => createConnectTransport({
    baseUrl, httpVersion: '1.1', useBinaryFormat: true, useHttpGet: true }),
  'gRPC-Web': () => createGrpcWebTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
};

// The ConnectError a call rejects with (fails if it resolves, or rejects with something else).
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ConnectError, 'not a ConnectError: ' + e);
    return e;
  }
  assert.fail('the call succeeded');
}

async function collect(stream) {
  const out = [];
  for await (const m of stream) out.push(m.message);
  return out;
}

before(async () => {
  const port = await startServer();
  baseUrl = 'http://127.0.0.1:' + port;
});

after(stopServer);

for (const [name, makeTransport] of Object.entries(transports)) {
  describe(name, () => {
    let bench, hello;
    before(() => {
      const transport = makeTransport();
      bench = createClient(Bench, transport);
      hello = createClient(HelloWorld, transport);
    });

    test('unary answers', TIMEOUT, async () => {
      assert.equal((await bench.unary({ message: 'echo me' })).message, 'echo me');
      assert.equal((await hello.sayHello({ message: 'node' })).message, 'Hello, node');
      const long = 'x'.repeat(100000);
      assert.equal((await bench.unary({ message: long })).message, long);
    });

    test('Lookup answers', TIMEOUT, async () => {
      assert.equal((await bench.lookup({ message: 'key' })).message, 'found: key');
    });

    test('a server stream delivers every message in order', TIMEOUT, async () => {
      assert.deepEqual(await collect(bench.serverStream({ message: '5' })), ['0', '1', '2', '3', '4']);
      assert.deepEqual(await collect(bench.serverStream({ message: '3:20' })), ['0', '1', '2']);
      assert.deepEqual(await collect(bench.serverStream({ message: '0' })), []);
    });

    test('a server stream that fails midway', TIMEOUT, async () => {
      const got = [];
      const e = await failure((async () => {
        for await (const m of bench.serverStream({ message: 'fail-after:2:10' })) got.push(m.message);
      })());
      assert.deepEqual(got, ['0', '1']);
      assert.equal(e.code, Code.Aborted);
      assert.equal(e.rawMessage, 'failed after 2');
    });

    test('every status code reaches the client as the same Code', TIMEOUT, async () => {
      for (let code = 1; code <= 16; code++) {
        const text = 'failed with ' + Code[code] + ': 50% "quoted" caf\u00e9';
        const e = await failure(bench.unary({ message: 'fail:' + code + ':' + text }));
        assert.equal(e.code, code, Code[code] + ' came back as ' + Code[e.code] + ': ' + e.message);
        assert.equal(e.rawMessage, text);
      }
      // and from a stream
      for (const code of [Code.NotFound, Code.Unauthenticated]) {
        const e = await failure(collect(bench.serverStream({ message: 'fail-after:0:' + code })));
        assert.equal(e.code, code);
      }
    });

    test('a deadline that expires is DeadlineExceeded, and the server keeps serving', TIMEOUT, async () => {
      const began = Date.now();
      const e = await failure(bench.unary({ message: 'sleep:2000' }, { timeoutMs: 200 }));
      assert.equal(e.code, Code.DeadlineExceeded, e.message);
      assert.ok(Date.now() - began < 1500, 'took ' + (Date.now() - began) + ' ms');
      assert.equal((await bench.unary({ message: 'sleep:10' }, { timeoutMs: 5000 })).message, 'sleep:10');
    });

    test('cancelling a stream midway is Canceled, and the server keeps serving', TIMEOUT, async () => {
      const abort = new AbortController();
      const got = [];
      const began = Date.now();
      const e = await failure((async () => {
        for await (const m of bench.serverStream({ message: '100:50' }, { signal: abort.signal })) {
          got.push(m.message);
          if (got.length === 2) abort.abort();
        }
      })());
      assert.equal(e.code, Code.Canceled, e.message);
      assert.deepEqual(got, ['0', '1']);
      assert.ok(Date.now() - began < 2000, 'the stream ran on for ' + (Date.now() - began) + ' ms');
      assert.equal((await bench.unary({ message: 'after cancel' })).message, 'after cancel');
      assert.deepEqual(await collect(bench.serverStream({ message: '2' })), ['0', '1']);
    });

    test('request headers come back as a response header and a trailer', TIMEOUT, async () => {
      const raw = new Uint8Array([0, 1, 2, 250, 255]);
      let headers, trailers;
      const answer = await bench.unary({ message: 'meta' }, {
        headers: { 'x-echo': 'from node', 'x-bin-bin': encodeBinaryHeader(raw) },
        onHeader: (h) => { headers = h; },
        onTrailer: (t) => { trailers = t; },
      });
      assert.equal(answer.message, 'from node');
      assert.equal(headers.get('x-echo'), 'from node');
      assert.equal(trailers.get('x-echo-trailer'), 'from node');
      assert.ok(headers.get('x-bin-bin'), 'no x-bin-bin header');
      assert.deepEqual(decodeBinaryHeader(headers.get('x-bin-bin')), raw);
    });

    test('a server stream\'s headers arrive with its first message, its trailers at the end', TIMEOUT, async () => {
      const raw = new Uint8Array([0, 1, 2, 250, 255]);
      for (const count of [2, 0]) {
        let headers, trailers;
        const got = [];
        const stream = bench.serverStream({ message: 'meta:' + count }, {
          headers: { 'x-echo': 'streamed', 'x-bin-bin': encodeBinaryHeader(raw) },
          onHeader: (h) => { headers = h; },
          onTrailer: (t) => { trailers = t; },
        });
        for await (const m of stream) {
          assert.ok(headers, 'a message before the headers');
          got.push(m.message);
        }
        assert.deepEqual(got, count ? ['0', '1'] : []);
        assert.equal(headers.get('x-echo'), 'streamed');
        assert.deepEqual(decodeBinaryHeader(headers.get('x-bin-bin')), raw);
        assert.equal(trailers.get('x-echo-trailer'), 'streamed');
        assert.equal(trailers.get('x-echo'), null, 'a header repeated in the trailers');
        // Added after the first message, when the head was out: it can only be a trailer.
        if (count) assert.equal(trailers.get('x-late'), 'after the first message');
      }
    });

    test('an unknown method is Unimplemented', TIMEOUT, async () => {
      // A service of the right shape at a path the server does not serve.
      const Nowhere = { ...Bench, typeName: 'coronet.bench.v1.Nowhere',
        methods: Bench.methods.map((m) => ({ ...m, parent: undefined })) };
      Nowhere.methods.forEach((m) => { m.parent = Nowhere; });
      Nowhere.method = Object.fromEntries(Nowhere.methods.map((m) => [m.localName, m]));
      const e = await failure(createClient(Nowhere, makeTransport()).unary({ message: 'x' }));
      assert.equal(e.code, Code.Unimplemented, e.message);
    });
  });
}
