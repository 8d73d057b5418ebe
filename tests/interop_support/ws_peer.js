// A WebSocket peer built on the npm package `ws`, for webwire's interop
// tests (tests/interop_node.rs). `ws` is found through NODE_PATH.
//
//   node ws_peer.js version          print the ws version
//   node ws_peer.js client URL CASE [deflate]
//                                    run one CASE against the echo server at
//                                    URL; prints `extensions: NAMES` (what
//                                    was negotiated, or `none`), then
//                                    `PASS CASE` and exits 0, or explains the
//                                    mismatch and exits 1
//   node ws_peer.js server [deflate] an echo server on 127.0.0.1, free port
//
// The server prints `listening on ws://127.0.0.1:PORT`, echoes text as text
// and binary as binary, and understands three commands sent as text:
// `!binary N` (answers with N binary bytes), `!ping` (pings the client and
// answers `pong ok` once the pong arrived) and `!close CODE` (closes with
// CODE). For each connection it prints `connected extensions: NAMES` and,
// when it is over, `closed CODE REASON` with the close code it received.
//
// permessage-deflate is offered (client) or accepted (server) only with the
// `deflate` argument; `threshold: 0` compresses every message.
'use strict';

const crypto = require('crypto');
const { WebSocket, WebSocketServer, extension } = require('ws');

const MAX_SIZE = 16 * 1024 * 1024;
const STEP_MS = 10000;

class Mismatch extends Error {}

function check(cond, what) {
  if (!cond) throw new Mismatch(what);
}

function describe(data, isBinary) {
  if (!isBinary) return `text of ${data.length} chars: ${JSON.stringify(String(data).slice(0, 40))}`;
  return `binary of ${data.length} bytes: ${Buffer.from(data).subarray(0, 16).toString('hex')}`;
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`timed out waiting for ${what}`)), STEP_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Messages arrive into a queue; `next()` takes the next one.
function inbox(ws) {
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const msg = { data: isBinary ? data : data.toString('utf8'), isBinary };
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  return {
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      return withTimeout(new Promise((resolve) => waiters.push(resolve)), 'a message');
    },
  };
}

function sendP(ws, data, options) {
  return new Promise((resolve, reject) => ws.send(data, options, (err) => (err ? reject(err) : resolve())));
}

async function echo(ws, box, data, isBinary) {
  await sendP(ws, data, { binary: isBinary });
  const got = await box.next();
  const sent = describe(data, isBinary);
  check(got.isBinary === isBinary, `sent ${sent}, got ${describe(got.data, got.isBinary)}`);
  const same = isBinary ? Buffer.compare(got.data, data) === 0 : got.data === data;
  check(same, `sent ${sent}, got ${describe(got.data, got.isBinary)}`);
}

const cases = {
  async text(ws, box) {
    for (const t of ['hello', '', 'héllo wörld ✓ 🦀 \u0000 \u{10ffff}', 'x'.repeat(125), 'y'.repeat(126),
      'z'.repeat(65535), 'w'.repeat(65536), 'ü'.repeat(512 * 1024)]) {
      await echo(ws, box, t, false);
    }
  },
  async binary(ws, box) {
    const bytes = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) bytes[i] = i;
    for (const b of [Buffer.alloc(0), bytes, Buffer.alloc(126), crypto.randomBytes(65536),
      crypto.randomBytes(1024 * 1024)]) {
      await echo(ws, box, b, true);
    }
  },
  async fragmented(ws, box) {
    // `fin: false` sends a fragment; the last send finishes the message.
    await sendP(ws, 'frag', { fin: false });
    await sendP(ws, 'mented ', { fin: false });
    await sendP(ws, 'tëxt', { fin: true });
    let got = await box.next();
    check(!got.isBinary && got.data === 'fragmented tëxt', `got ${describe(got.data, got.isBinary)}`);
    // A multi-byte character split across frames.
    await sendP(ws, Buffer.from('check \xe2', 'latin1'), { binary: false, fin: false });
    await sendP(ws, Buffer.from([0x9c]), { binary: false, fin: false });
    await sendP(ws, Buffer.from('\x93 mark', 'latin1'), { binary: false, fin: true });
    got = await box.next();
    check(!got.isBinary && got.data === 'check \u2713 mark', `split character came back as ${describe(got.data, got.isBinary)}`);
    const chunks = Array.from({ length: 50 }, () => crypto.randomBytes(1000));
    for (let i = 0; i < chunks.length; i++) {
      await sendP(ws, chunks[i], { binary: true, fin: i === chunks.length - 1 });
    }
    got = await box.next();
    check(got.isBinary && Buffer.compare(got.data, Buffer.concat(chunks)) === 0,
      `fragmented binary came back as ${describe(got.data, got.isBinary)}`);
  },
  async ping(ws, box) {
    const bytes125 = Buffer.alloc(125);
    for (let i = 0; i < 125; i++) bytes125[i] = i;
    for (const payload of [Buffer.from('webwire'), Buffer.alloc(0), bytes125]) {
      const pong = withTimeout(new Promise((resolve) => ws.once('pong', resolve)), 'a pong');
      ws.ping(payload);
      const data = await pong;
      check(Buffer.compare(data, payload) === 0, `pong carried ${data.toString('hex')}, expected ${payload.toString('hex')}`);
    }
    // An unsolicited pong is ignored; the connection keeps working.
    ws.pong(Buffer.from('heartbeat'));
    await echo(ws, box, 'still open', false);
  },
  async pipelined(ws, box) {
    const messages = [];
    for (let i = 0; i < 300; i++) {
      messages.push(i % 2 ? { data: `message ${i}`, isBinary: false } : { data: crypto.randomBytes(i), isBinary: true });
    }
    for (const m of messages) ws.send(m.data, { binary: m.isBinary });
    for (let i = 0; i < messages.length; i++) {
      const got = await box.next();
      const m = messages[i];
      const same = got.isBinary === m.isBinary &&
        (m.isBinary ? Buffer.compare(got.data, m.data) === 0 : got.data === m.data);
      check(same, `message ${i}: sent ${describe(m.data, m.isBinary)}, got ${describe(got.data, got.isBinary)}`);
    }
  },
  async close(ws, box) {
    await echo(ws, box, 'before close', false);
    const closed = withTimeout(new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))), 'the close');
    const start = Date.now();
    ws.close(4001, 'bye from node');
    const { code, reason } = await closed;
    const elapsed = (Date.now() - start) / 1000;
    check(code === 4001, `close code echoed as ${code}, expected 4001`);
    check(reason === 'bye from node', `close reason echoed as ${JSON.stringify(reason)}`);
    // 'close' fires once the TCP connection is closed; the server does that
    // promptly (RFC 6455 §7.1.1) instead of waiting for ws's 30 s timeout.
    check(elapsed < 3, `close took ${elapsed.toFixed(1)} s`);
  },
  async close_normal(ws) {
    const closed = withTimeout(new Promise((resolve) => ws.once('close', (code) => resolve(code))), 'the close');
    ws.close(1000);
    const code = await closed;
    check(code === 1000, `close echoed as ${code}`);
  },
};

function extensions(ws) {
  return ws.extensions ? Object.keys(extension.parse(ws.extensions)).join(',') : 'none';
}

async function client(url, name, deflate) {
  const ws = new WebSocket(url, { maxPayload: MAX_SIZE, perMessageDeflate: deflate && { threshold: 0 } });
  const box = inbox(ws);
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }), 'the connection');
  console.log(`extensions: ${extensions(ws)}`);
  await cases[name](ws, box);
  if (ws.readyState === WebSocket.OPEN) {
    const closed = withTimeout(new Promise((resolve) => ws.once('close', resolve)), 'the close');
    ws.close(1000);
    await closed;
  }
  console.log(`PASS ${name}`);
}

function server(deflate) {
  const wss = new WebSocketServer({
    host: '127.0.0.1', port: 0, maxPayload: MAX_SIZE, perMessageDeflate: deflate && { threshold: 0 },
  });
  wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
  wss.on('connection', (ws) => {
    console.log(`connected extensions: ${extensions(ws)}`);
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString('utf8');
      if (text !== null && text.startsWith('!binary ')) {
        const n = Number(text.split(' ')[1]);
        const out = Buffer.alloc(n);
        for (let i = 0; i < n; i++) out[i] = i % 251;
        ws.send(out, { binary: true });
      } else if (text === '!ping') {
        const timer = setTimeout(() => ws.terminate(), STEP_MS);
        ws.once('pong', () => {
          clearTimeout(timer);
          ws.send('pong ok');
        });
        ws.ping(Buffer.from('from node'));
      } else if (text !== null && text.startsWith('!close ')) {
        ws.close(Number(text.split(' ')[1]), 'server bye');
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code, reason) => console.log(`closed ${code} ${reason.toString()}`));
  });
}

function main() {
  let args = process.argv.slice(2);
  const deflate = args.length > 0 && args[args.length - 1] === 'deflate';
  if (deflate) args = args.slice(0, -1);
  if (args.length === 1 && args[0] === 'version') {
    console.log(require('ws/package.json').version);
  } else if (args.length === 3 && args[0] === 'client' && args[2] in cases) {
    client(args[1], args[2], deflate).then(
      () => process.exit(0),
      (err) => {
        console.log(`FAIL ${args[2]}: ${err instanceof Mismatch ? err.message : err.stack || err}`);
        process.exit(1);
      },
    );
  } else if (args.length === 1 && args[0] === 'server') {
    server(deflate);
  } else {
    console.error(`usage: ws_peer.js version | client URL {${Object.keys(cases).join(',')}} [deflate] | server [deflate]`);
    process.exit(2);
  }
}

main();
