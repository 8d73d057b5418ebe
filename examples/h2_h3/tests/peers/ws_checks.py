"""Shared check sequence for h2_client.py and h3_client.py (not run directly).

The HTTP layer (HTTP/2 or HTTP/3 extended CONNECT) is abstracted as a
"transport" object for one request stream, with two coroutines:

    await transport.send(data: bytes, end_stream: bool = False)
    await transport.receive() -> (data: bytes, stream_ended: bool)

On top of it, wsproto runs the RFC 6455 framing as a client (frames masked),
and `run_checks` sends messages and checks that they come back unchanged.
Output contract: one `PASS ...` line per check on stdout, `ALL PASSED` at the
end; `CheckFailed` is raised on any mismatch (the caller prints `FAIL ...`).

Checks, in order: 2xx status; the chosen subprotocol (if any were offered);
permessage-deflate negotiated (with --deflate); echoes of text of 0, 5, 125,
126, 65536 and 1048576 characters (non-ASCII, "héllo wörld ✓ " repeated) and
of random binary of 0, 256, 65536 and 1048576 bytes; 200 text messages
"msg 0".."msg 199" all sent before any echo is read, echoed in order; close
1000, sent in a DATA frame that also carries END_STREAM, answered by the
server's close frame; then the server's end of the stream within 2 s (with
--allow-open-stream, a server that never ends it only gets a NOTE line).
"""

import asyncio
import os
import sys
import time

from wsproto import Connection, ConnectionType
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.handshake import client_extensions_handshake
from wsproto.utilities import split_comma_header

TEXT_SIZES = [0, 5, 125, 126, 65536, 1048576]  # in characters
BINARY_SIZES = [0, 256, 65536, 1048576]  # in bytes
PIPELINED = 200
TEXT_PATTERN = "héllo wörld ✓ "
TIMEOUT = 60  # seconds, for the whole run
STREAM_END_GRACE = 2  # seconds to wait for the server's end of stream after the close


class CheckFailed(Exception):
    pass


def passed(what):
    print(f"PASS {what}", flush=True)


def make_text(chars):
    repeats = chars // len(TEXT_PATTERN) + 1
    return (TEXT_PATTERN * repeats)[:chars]


def describe(kind, data):
    if kind == "text":
        return f"text of {len(data)} chars"
    return f"binary of {len(data)} bytes"


def negotiated_extensions(response_headers, deflate):
    """The wsproto extensions agreed in the CONNECT response (header names lowercase bytes)."""
    accepted = []
    for name, value in response_headers:
        if name == b"sec-websocket-extensions":
            accepted += split_comma_header(value)
    if not deflate:
        if accepted:
            raise CheckFailed(f"server accepted extensions that were not offered: {accepted}")
        return []
    if not accepted:
        raise CheckFailed("permessage-deflate was offered but the server did not accept it")
    extensions = client_extensions_handshake(accepted, [PerMessageDeflate()])
    passed(f"permessage-deflate negotiated ({', '.join(accepted)})")
    return extensions


class WebSocketClient:
    def __init__(self, transport, extensions):
        self.transport = transport
        self.ws = Connection(ConnectionType.CLIENT, extensions)
        self.events = []  # wsproto events not consumed yet
        self.stream_ended = False

    async def send(self, event, end_stream=False):
        await self.transport.send(self.ws.send(event), end_stream)

    async def next_event(self):
        while not self.events:
            if self.stream_ended:
                raise CheckFailed(
                    f"stream ended by the server (websocket state {self.ws.state.name})"
                )
            data, self.stream_ended = await self.transport.receive()
            if data:
                self.ws.receive_data(data)
                self.events.extend(self.ws.events())
        return self.events.pop(0)

    async def receive_message(self):
        """Next complete message as ("text", str) or ("binary", bytes); answers pings."""
        parts = []
        while True:
            event = await self.next_event()
            if isinstance(event, Ping):
                await self.send(event.response())
            elif isinstance(event, Message):
                parts.append(event.data)
                if event.message_finished:
                    if isinstance(event, TextMessage):
                        return "text", "".join(parts)
                    return "binary", b"".join(parts)
            elif isinstance(event, CloseConnection):
                raise CheckFailed(
                    f"unexpected close from server: code={event.code} reason={event.reason!r}"
                )

    async def send_message(self, kind, data):
        if kind == "text":
            await self.send(TextMessage(data=data))
        else:
            await self.send(BytesMessage(data=data))

    async def check_echo(self, kind, data):
        # Send and receive concurrently, so a server that echoes while still
        # reading can never deadlock against us on flow control.
        start = time.monotonic()
        _, (got_kind, got) = await asyncio.gather(
            self.send_message(kind, data), self.receive_message()
        )
        if got_kind != kind or len(got) != len(data):
            raise CheckFailed(f"echo of {describe(kind, data)}: got {describe(got_kind, got)}")
        if got != data:
            raise CheckFailed(f"echo of {describe(kind, data)}: same length, different content")
        passed(f"echo {describe(kind, data)} ({(time.monotonic() - start) * 1000:.0f} ms)")

    async def check_pipelined(self, count):
        messages = [f"msg {i}" for i in range(count)]
        for message in messages:  # all sent before any echo is read
            await self.send(TextMessage(data=message))
        for i, message in enumerate(messages):
            kind, got = await self.receive_message()
            if kind != "text" or got != message:
                raise CheckFailed(
                    f"pipelined message {i}: expected {message!r}, got {kind} {got!r:.60}"
                )
        passed(f"{count} pipelined text messages echoed in order")

    async def check_close(self, allow_open_stream):
        # The close frame carries END_STREAM (the analogue of sending a TCP FIN
        # right after the close frame): nothing more will be sent on this stream.
        await self.send(CloseConnection(code=1000, reason="bye"), end_stream=True)
        event = await self.next_event()
        while isinstance(event, Ping):
            event = await self.next_event()
        if not isinstance(event, CloseConnection):
            raise CheckFailed(f"expected the server's close frame, got {event!r:.80}")
        if event.code != 1000:
            raise CheckFailed(f"server answered close with code {event.code}, expected 1000")
        if self.ws.state != ConnectionState.CLOSED:
            raise CheckFailed(f"websocket state {self.ws.state.name} after close handshake")
        passed(f"close 1000 answered with close {event.code}")
        # The server must now end its side of the stream too.
        try:
            while not self.stream_ended:
                data, self.stream_ended = await asyncio.wait_for(
                    self.transport.receive(), STREAM_END_GRACE
                )
                if data:
                    raise CheckFailed(f"{len(data)} bytes received after the close frame")
        except (asyncio.TimeoutError, TimeoutError):
            problem = (
                f"server did not end its side of the stream within {STREAM_END_GRACE} s "
                "after the close handshake"
            )
            if not allow_open_stream:
                raise CheckFailed(problem + " (--allow-open-stream tolerates this)") from None
            print(f"NOTE {problem} (tolerated: --allow-open-stream)", flush=True)
            return
        passed("stream ended by the server after the close handshake")


def check_subprotocol(response_headers, offered):
    chosen = [value.decode() for name, value in response_headers if name == b"sec-websocket-protocol"]
    if not offered:
        if chosen:
            raise CheckFailed(f"server chose subprotocol {chosen} but none was offered")
        return
    if len(chosen) != 1 or chosen[0] not in offered:
        raise CheckFailed(f"offered subprotocols {offered}, server answered {chosen}")
    passed(f"subprotocol {chosen[0]!r} selected")


def check_status(response_headers):
    status = dict(response_headers).get(b":status", b"").decode()
    if not status.startswith("2") or len(status) != 3:
        raise CheckFailed(f"extended CONNECT answered with status {status or 'none'}")
    passed(f"extended CONNECT answered with status {status}")


def request_headers(url, deflate, subprotocols):
    """Extended CONNECT request headers (RFC 8441 section 4 / RFC 9220 section 3)."""
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    headers = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", path.encode()),
        (b":authority", url.netloc.encode()),
        (b"sec-websocket-version", b"13"),
    ]
    if subprotocols:
        headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
    if deflate:
        headers.append((b"sec-websocket-extensions", b"permessage-deflate"))
    return headers


async def run_checks(transport, response_headers, deflate, subprotocols=(), allow_open_stream=False):
    check_status(response_headers)
    check_subprotocol(response_headers, subprotocols)
    client = WebSocketClient(transport, negotiated_extensions(response_headers, deflate))
    for chars in TEXT_SIZES:
        await client.check_echo("text", make_text(chars))
    for size in BINARY_SIZES:
        await client.check_echo("binary", os.urandom(size))
    await client.check_pipelined(PIPELINED)
    await client.check_close(allow_open_stream)


def run_main(coroutine):
    """Run the client coroutine with the overall timeout; exit 0/1/2 per the contract."""
    start = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))
    except CheckFailed as exc:
        print(f"FAIL {exc}", flush=True)
        sys.exit(1)
    except (asyncio.TimeoutError, TimeoutError):
        print(f"FAIL timeout: not finished after {TIMEOUT} s", flush=True)
        sys.exit(2)
    except Exception as exc:  # connection refused, TLS errors, protocol errors...
        print(f"FAIL {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
    print("ALL PASSED", flush=True)
    print(f"finished in {time.monotonic() - start:.2f} s", file=sys.stderr, flush=True)
