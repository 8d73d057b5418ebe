#!/usr/bin/env python3
"""WebSocket echo server on Hypercorn: RFC 8441 (WebSocket over HTTP/2) test peer.

A tiny ASGI app that echoes every WebSocket message (text as text, binary as
binary), served by Hypercorn over TLS with ALPN "h2" and "http/1.1" (Hypercorn's
default). Hypercorn always advertises SETTINGS_ENABLE_CONNECT_PROTOCOL=1 on
HTTP/2 and routes every CONNECT stream to its WebSocket handling, so an
extended CONNECT with `:protocol websocket` reaches this app with
scope["http_version"] == "2". Plain HTTP/1.1 Upgrade requests work too.

Hypercorn 0.18 quirks seen on HTTP/2 (from hypercorn/protocol/h2.py and
ws_stream.py): after a close handshake started by the client it sends its close
frame but never END_STREAM; any DATA frame that reaches it after it has
processed the client's close frame (e.g. an empty DATA frame carrying
END_STREAM, sent separately) makes it drop the whole TCP connection (KeyError
in hypercorn/protocol/h2.py); it does not check the `:protocol` value (any
CONNECT with :path is treated as a WebSocket). So run h2_client.py against
it with --allow-open-stream. h2_client.py puts END_STREAM on the DATA frame
of its close frame, which Hypercorn handles fine.

Invocation (needs: pip install hypercorn==0.18.0 wsproto==1.3.2 h2, and
aioquic for --h3):

    python3 hypercorn_echo.py --cert cert.pem --key key.pem [--port 0] [--h3]

--port 0 (the default) picks a free port. --h3 also serves HTTP/3 on the same
port number over UDP (Hypercorn's own H3 layer on aioquic; extended CONNECT
works there too, scope["http_version"] == "3"). Beware: on HTTP/3, any stream
event after Hypercorn has processed the client's close frame (the client's
FIN, even on the close frame's own STREAM frame) raises KeyError in
hypercorn/protocol/h3.py, which silently kills the one task serving the UDP
socket: every later QUIC connection then hangs. So with --h3 expect one
client-closed WebSocket per server process.

When ready it prints exactly `listening on https://127.0.0.1:PORT` on stdout. For each WebSocket it logs
`websocket http_version=... path=... subprotocols=[...]` on stderr.
"""

import argparse
import asyncio
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

MAX_MESSAGE_SIZE = 16 * 1024 * 1024


def log(line):
    print(line, file=sys.stderr, flush=True)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    elif scope["type"] == "websocket":
        subprotocols = scope.get("subprotocols") or []
        log(
            f"websocket http_version={scope['http_version']} path={scope['path']} "
            f"subprotocols=[{', '.join(subprotocols)}]"
        )
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocols[0] if subprotocols else None,
            }
        )
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                if message.get("bytes") is not None:
                    await send({"type": "websocket.send", "bytes": message["bytes"]})
                else:
                    await send({"type": "websocket.send", "text": message["text"]})
            elif message["type"] == "websocket.disconnect":
                # Hypercorn has already answered the peer's close frame itself.
                # Note: Hypercorn 0.18 reports 1006 here for every close the
                # peer starts, even a clean one, and on HTTP/2 it never ends
                # its side of the stream afterwards (only a close started by
                # the app is followed by END_STREAM).
                log(f"websocket closed code={message.get('code')} (as reported by Hypercorn)")
                return

    elif scope["type"] == "http":
        # Not a WebSocket: drain the request body, answer 404.
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"not found\n"})


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="PEM certificate chain")
    parser.add_argument("--key", required=True, help="PEM private key")
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    parser.add_argument(
        "--h3",
        action="store_true",
        help="also serve HTTP/3 (Hypercorn's aioquic-based QUIC support) on the same port, UDP",
    )
    args = parser.parse_args()

    config = Config()
    config.certfile = args.cert
    config.keyfile = args.key
    config.alpn_protocols = ["h2", "http/1.1"]  # Hypercorn's default, spelled out
    config.websocket_max_message_size = MAX_MESSAGE_SIZE
    config.accesslog = None
    config.errorlog = "-"  # Hypercorn's own messages go to stderr
    config.create_ssl_context()  # fail early (before the ready line) on a bad cert/key

    # Bind and listen ourselves so the real port is known, then hand the
    # socket to Hypercorn as fd://N (it takes ownership of the descriptor).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(100)
    port = sock.getsockname()[1]
    config.bind = [f"fd://{sock.detach()}"]
    if args.h3:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        config.quic_bind = [f"fd://{udp.detach()}"]

    print(f"listening on https://127.0.0.1:{port}", flush=True)
    await serve(app, config)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
