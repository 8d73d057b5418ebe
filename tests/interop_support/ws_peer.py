"""A WebSocket peer built on the PyPI package `websockets`, for webwire's
interop tests (tests/interop_python.rs):

    ws_peer.py version          print the websockets version
    ws_peer.py client URL CASE [deflate]
                                run one CASE against the echo server at URL;
                                prints `extensions: NAMES` (what was
                                negotiated, or `none`), then `PASS CASE` and
                                exits 0, or explains the mismatch and exits 1
    ws_peer.py server [deflate] an echo server on 127.0.0.1 and a free port

The server prints `listening on ws://127.0.0.1:PORT`, echoes text as text
and binary as binary, and understands three commands sent as text:
`!binary N` (answers with N binary bytes), `!ping` (pings the client and
answers `pong ok` once the pong arrived) and `!close CODE` (closes with
CODE). For each connection it prints `connected extensions: NAMES` and,
when it is over, `closed CODE REASON` with the close code it received.

permessage-deflate is offered (client) or accepted (server) only with the
`deflate` argument. TLS: the client trusts the CA in $WS_PEER_CA for wss://
URLs; the server serves wss:// with $WS_PEER_CERT and $WS_PEER_KEY.
"""

import asyncio
import os
import ssl
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

MAX_SIZE = 16 * 1024 * 1024
STEP = 10  # seconds any single exchange may take


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def describe(data):
    if isinstance(data, str):
        return f"text of {len(data)} chars: {data[:40]!r}"
    return f"binary of {len(data)} bytes: {bytes(data[:16]).hex()}"


async def echo(ws, message, expected=None):
    """Sends `message` and checks the next message received equals `expected`
    (by default the message itself, with the same type)."""
    expected = message if expected is None else expected
    await ws.send(message)
    got = await asyncio.wait_for(ws.recv(), STEP)
    check(type(got) is type(expected), f"sent {describe(message)}, got {describe(got)}")
    check(got == expected, f"sent {describe(message)}, got {describe(got)}")


async def case_text(ws):
    for text in ["hello", "", "héllo wörld ✓ 🦀 \u0000 \U0010ffff", "x" * 125, "y" * 126,
                 "z" * 65535, "w" * 65536, "ü" * (512 * 1024)]:
        await echo(ws, text)


async def case_binary(ws):
    for data in [b"", bytes(range(256)), b"\x00" * 126, os.urandom(65536),
                 os.urandom(1024 * 1024)]:
        await echo(ws, data)


async def case_fragmented(ws):
    # websockets sends an iterable as one fragmented message.
    await ws.send(["frag", "mented ", "tëxt", ""])
    got = await asyncio.wait_for(ws.recv(), STEP)
    check(got == "fragmented tëxt", f"fragmented text came back as {describe(got)}")
    # A multi-byte character split across frames.
    await ws.send([b"check \xe2", b"\x9c", b"\x93 mark"], text=True)
    got = await asyncio.wait_for(ws.recv(), STEP)
    check(got == "check \u2713 mark", f"split character came back as {describe(got)}")
    chunks = [os.urandom(1000) for _ in range(50)]
    await ws.send(chunks)
    got = await asyncio.wait_for(ws.recv(), STEP)
    check(got == b"".join(chunks), f"fragmented binary came back as {describe(got)}")


async def case_ping(ws):
    for payload in [b"webwire", b"", bytes(range(125))]:
        waiter = await ws.ping(payload)
        latency = await asyncio.wait_for(waiter, STEP)
        check(latency >= 0, "no pong")
    # An unsolicited pong is ignored; the connection keeps working.
    await ws.pong(b"heartbeat")
    await echo(ws, "still open")


async def case_pipelined(ws):
    messages = [f"message {i}" if i % 2 else os.urandom(i) for i in range(300)]
    for m in messages:
        await ws.send(m)
    for i, m in enumerate(messages):
        got = await asyncio.wait_for(ws.recv(), STEP)
        check(got == m, f"message {i}: sent {describe(m)}, got {describe(got)}")


async def case_close(ws):
    await echo(ws, "before close")
    start = time.monotonic()
    await asyncio.wait_for(ws.close(4001, "bye from python"), STEP)
    elapsed = time.monotonic() - start
    rcvd = ws.protocol.close_rcvd
    check(rcvd is not None, "no close frame received")
    check(rcvd.code == 4001, f"close code echoed as {rcvd.code}, expected 4001")
    check(rcvd.reason == "bye from python", f"close reason echoed as {rcvd.reason!r}")
    # The server closes the TCP connection promptly (RFC 6455 §7.1.1)
    # instead of leaving the client to time out.
    check(elapsed < 3, f"close took {elapsed:.1f} s")


async def case_close_normal(ws):
    await asyncio.wait_for(ws.close(), STEP)
    rcvd = ws.protocol.close_rcvd
    check(rcvd is not None and rcvd.code == 1000, f"close echoed as {rcvd}")


CASES = {name[len("case_"):]: f for name, f in globals().items() if name.startswith("case_")}


def extensions(ws):
    return ",".join(e.name for e in ws.protocol.extensions) or "none"


def tls_client():
    """For wss:// URLs: Python's default checks (chain and host name), with
    the test CA in $WS_PEER_CA trusted."""
    return ssl.create_default_context(cafile=os.environ.get("WS_PEER_CA"))


def tls_server():
    """With $WS_PEER_CERT and $WS_PEER_KEY, the server speaks wss://."""
    cert, key = os.environ.get("WS_PEER_CERT"), os.environ.get("WS_PEER_KEY")
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def client(url, name, compression):
    tls = tls_client() if url.startswith("wss://") else None
    async with connect(url, max_size=MAX_SIZE, compression=compression, open_timeout=STEP,
                       close_timeout=STEP, ping_interval=None, ssl=tls) as ws:
        print(f"extensions: {extensions(ws)}", flush=True)
        await CASES[name](ws)
    print(f"PASS {name}", flush=True)


async def handler(ws):
    print(f"connected extensions: {extensions(ws)}", flush=True)
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("!binary "):
                n = int(message.split()[1])
                await ws.send(bytes(i % 251 for i in range(n)))
            elif message == "!ping":
                waiter = await ws.ping(b"from python")
                await asyncio.wait_for(waiter, STEP)
                await ws.send("pong ok")
            elif isinstance(message, str) and message.startswith("!close "):
                await ws.close(int(message.split()[1]), "server bye")
            else:
                await ws.send(message)
    finally:
        await asyncio.wait_for(ws.wait_closed(), STEP)
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)


async def server(compression):
    tls = tls_server()
    async with serve(handler, "127.0.0.1", 0, max_size=MAX_SIZE, compression=compression,
                     ping_interval=None, ssl=tls) as srv:
        port = srv.sockets[0].getsockname()[1]
        scheme = "wss" if tls else "ws"
        print(f"listening on {scheme}://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


def main():
    args = sys.argv[1:]
    compression = None
    if args and args[-1] == "deflate":
        compression = "deflate"
        args = args[:-1]
    if args == ["version"]:
        print(websockets.__version__)
    elif len(args) == 3 and args[0] == "client" and args[2] in CASES:
        try:
            asyncio.run(client(args[1], args[2], compression))
        except Mismatch as e:
            print(f"FAIL {args[2]}: {e}", flush=True)
            sys.exit(1)
    elif args == ["server"]:
        asyncio.run(server(compression))
    else:
        sys.exit(f"usage: ws_peer.py version | client URL {{{','.join(CASES)}}} [deflate]"
                 " | server [deflate]")


if __name__ == "__main__":
    main()
