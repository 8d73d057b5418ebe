#!/usr/bin/env node
// h2_node_echo.js: an independent WebSocket-over-HTTP/2 (RFC 8441) echo
// server used as a test peer. Nothing in it is webwire code: HTTP/2 is
// Node's own `http2` module (nghttp2), with SETTINGS_ENABLE_CONNECT_PROTOCOL=1
// sent in its SETTINGS, and the WebSocket framing (RFC 6455 frames, UTF-8
// checks, close handshake, permessage-deflate of RFC 7692) is the npm `ws`
// package, version 8.23.0, run over each extended-CONNECT Http2Stream.
//
// Invocation:
//   NODE_PATH=/path/to/node_modules node h2_node_echo.js --cert CERT.pem --key KEY.pem [--port 0]
//     [--deflate-threshold N]
// NODE_PATH must name a node_modules holding ws@8.23.0 (e.g. after
// `npm install --prefix DIR ws@8.23.0`, NODE_PATH=DIR/node_modules).
// The server listens on 127.0.0.1 (port 0 = pick a free one) and, once
// listening, prints exactly one line on stdout:
//   listening on https://127.0.0.1:PORT
// Everything else (one line per WebSocket, stream errors, RST codes) goes to
// stderr.
//
// Behaviour:
//   * `:method CONNECT` + `:protocol websocket` (the client must also send
//     `:scheme`, `:path`, `:authority`, as RFC 8441 requires; nghttp2 resets
//     the stream otherwise) and `sec-websocket-version: 13` -> `:status 200`,
//     then every text message is echoed as text and every binary message as
//     binary, in order; the close handshake is answered by ws; the stream is
//     then ended (DATA with END_STREAM).
//   * `sec-websocket-protocol`: the first offered subprotocol is selected.
//   * `sec-websocket-extensions: permessage-deflate...` is negotiated by ws's
//     PerMessageDeflate exactly as ws's WebSocketServer does it (ws defaults:
//     messages shorter than --deflate-threshold bytes, default 1024, are sent
//     uncompressed).
//   * CONNECT with a bad/missing sec-websocket-version -> 400; CONNECT without
//     `:protocol websocket` -> 400; any other method -> 404.
//
// On the wire (observed with Node 20 / ws 8.23.0):
//   * The server's SETTINGS carry only ENABLE_CONNECT_PROTOCOL=1: its receive
//     windows stay at 65535 (stream and connection) and grow by WINDOW_UPDATE;
//     its DATA frames are at most 16384 bytes.
//   * Close: after the close handshake the server ends its side with an empty
//     DATA frame flagged END_STREAM; the client's END_STREAM may come before or
//     after it. A client that never sends END_STREAM gets RST_STREAM(NO_ERROR)
//     after ws's 30 s close timeout. A peer's END_STREAM without a close frame
//     makes the server end too (ws code 1006, no close frame sent).
//   * Rejections (400/404) are HEADERS with END_STREAM followed at once by
//     RST_STREAM(NO_ERROR) if the client had not ended its side.
'use strict';

const fs = require('fs');
const http2 = require('http2');

let WebSocket;
try {
  WebSocket = require('ws'); // found through NODE_PATH
} catch (err) {
  process.stderr.write(
    'h2_node_echo: cannot load the npm package `ws`; set NODE_PATH to a ' +
      'node_modules that contains ws@8.23.0\n'
  );
  process.exit(2);
}
// ws's package.json "exports" forbids require('ws/lib/...'); the same classes
// are exported from the package root.
const { PerMessageDeflate, extension, subprotocol } = WebSocket;
const wsVersion = require('ws/package.json').version;
if (wsVersion !== '8.23.0') {
  process.stderr.write(`h2_node_echo: warning: ws ${wsVersion}, expected 8.23.0\n`);
}

// ---------------------------------------------------------------- arguments
function usage(msg) {
  if (msg) process.stderr.write(`h2_node_echo: ${msg}\n`);
  process.stderr.write(
    'usage: node h2_node_echo.js --cert CERT --key KEY [--port 0] [--deflate-threshold 1024]\n'
  );
  process.exit(2);
}

const args = { port: 0, deflateThreshold: 1024 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[i + 1];
  if (a === '--cert' && v !== undefined) { args.cert = v; i++; }
  else if (a === '--key' && v !== undefined) { args.key = v; i++; }
  else if (a === '--port' && v !== undefined) { args.port = Number(v); i++; }
  else if (a === '--deflate-threshold' && v !== undefined) { args.deflateThreshold = Number(v); i++; }
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown or incomplete argument: ${a}`);
}
if (!args.cert || !args.key) usage('--cert and --key are required');
if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) usage('bad --port');
if (!Number.isInteger(args.deflateThreshold) || args.deflateThreshold < 0) usage('bad --deflate-threshold');

// The same defaults as ws's WebSocketServer, except maxPayload (64 MiB).
const MAX_PAYLOAD = 64 << 20;
const CLOSE_TIMEOUT = 30 * 1000; // ws's lib/constants.js CLOSE_TIMEOUT

function log(line) {
  process.stderr.write(`h2_node_echo: ${line}\n`);
}

// A header value as one string: Node gives an array when a field repeats.
function headerValue(headers, name) {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

function reject(stream, status, why, extra = {}) {
  log(`stream ${stream.id}: ${status} (${why})`);
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status, ...extra }, { endStream: true });
}

// ------------------------------------------------------------------- server
const server = http2.createSecureServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  allowHTTP1: false,
  settings: { enableConnectProtocol: true }
});

server.on('sessionError', (err) => log(`session error: ${err.message}`));
server.on('session', (session) => {
  session.on('error', (err) => log(`session error: ${err.message}`));
  session.on('goaway', (code, lastStreamID) =>
    log(`GOAWAY received: code=${code} lastStreamID=${lastStreamID}`)
  );
});

server.on('stream', (stream, headers) => {
  const id = stream.id;
  stream.on('error', (err) => log(`stream ${id} error: ${err.code || ''} ${err.message}`));
  stream.on('aborted', () => log(`stream ${id} aborted by the peer before it was ended`));
  stream.on('close', () => {
    if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
      log(`stream ${id} closed with RST_STREAM code ${stream.rstCode}`);
    }
  });

  const method = headers[':method'];
  const path = headers[':path'];
  if (method !== 'CONNECT') return reject(stream, 404, `${method} ${path}`);
  if (headers[':protocol'] !== 'websocket') {
    return reject(stream, 400, `CONNECT without :protocol websocket (${headers[':protocol']})`);
  }
  if (headerValue(headers, 'sec-websocket-version') !== '13') {
    return reject(stream, 400, 'missing or invalid sec-websocket-version', {
      'sec-websocket-version': '13'
    });
  }

  // Subprotocol: the first offered one (ws's WebSocketServer default).
  let protocol;
  const offeredProtocols = headerValue(headers, 'sec-websocket-protocol');
  if (offeredProtocols !== undefined) {
    try {
      protocol = subprotocol.parse(offeredProtocols).values().next().value;
    } catch (err) {
      return reject(stream, 400, 'invalid sec-websocket-protocol');
    }
  }

  // permessage-deflate: as WebSocketServer.handleUpgrade + completeUpgrade.
  const extensions = {};
  const offeredExtensions = headerValue(headers, 'sec-websocket-extensions');
  if (offeredExtensions !== undefined) {
    const perMessageDeflate = new PerMessageDeflate({
      threshold: args.deflateThreshold,
      isServer: true,
      maxPayload: MAX_PAYLOAD
    });
    try {
      const offers = extension.parse(offeredExtensions);
      if (offers[PerMessageDeflate.extensionName]) {
        perMessageDeflate.accept(offers[PerMessageDeflate.extensionName]);
        extensions[PerMessageDeflate.extensionName] = perMessageDeflate;
      }
    } catch (err) {
      return reject(stream, 400, `invalid or unacceptable sec-websocket-extensions: ${err.message}`);
    }
  }

  // completeUpgrade: destroy if the peer already half-closed.
  if (!stream.readable || !stream.writable) {
    log(`stream ${id}: peer ended the stream before the response`);
    stream.destroy();
    return;
  }

  const response = { ':status': 200 };
  const ws = new WebSocket(null, undefined, {
    autoPong: true,
    maxPendingAutoPongs: 60,
    closeTimeout: CLOSE_TIMEOUT
  });
  if (protocol) {
    response['sec-websocket-protocol'] = protocol;
    ws._protocol = protocol;
  }
  if (extensions[PerMessageDeflate.extensionName]) {
    const params = extensions[PerMessageDeflate.extensionName].params;
    response['sec-websocket-extensions'] = extension.format({
      [PerMessageDeflate.extensionName]: [params]
    });
    ws._extensions = extensions;
  }
  stream.respond(response); // HEADERS without END_STREAM: the tunnel stays open

  log(
    `websocket over HTTP/2 extended CONNECT path=${path} ` +
      `extensions=${response['sec-websocket-extensions'] || '-'}` +
      (protocol ? ` protocol=${protocol}` : '')
  );

  // Run ws's framing over the Http2Stream, as completeUpgrade does with a TCP
  // socket. setSocket uses: setTimeout (Http2Stream has it), setNoDelay (not
  // on Http2Stream, but ws skips it when absent, and Http2Session already
  // sets TCP_NODELAY on the connection), on('data'|'end'|'close'|'error'),
  // pause/resume/read/unshift, cork/write/uncork, end, destroy: all Duplex
  // methods that Http2Stream has. So no shim is needed. end() sends END_STREAM;
  // destroy() (close timeout, protocol error) sends RST_STREAM.
  ws.setSocket(stream, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxBufferedChunks: 256 * 1024,
    maxFragments: 16 * 1024,
    maxPayload: MAX_PAYLOAD,
    skipUTF8Validation: false
  });

  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (err) => log(`stream ${id} websocket error: ${err.code || ''} ${err.message}`));
  ws.on('close', (code, reason) =>
    log(`stream ${id} websocket closed code=${code} reason=${JSON.stringify(reason.toString())}`)
  );
});

server.listen(args.port, '127.0.0.1', () => {
  process.stdout.write(`listening on https://127.0.0.1:${server.address().port}\n`);
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
