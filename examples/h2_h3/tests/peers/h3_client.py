#!/usr/bin/env python3
"""WebSocket over HTTP/3 (RFC 9220) test client on aioquic + wsproto.

Connects with QUIC (ALPN h3, server certificate verified against --ca, server
name = the URL's host), waits for the server's SETTINGS and requires
SETTINGS_ENABLE_CONNECT_PROTOCOL=1, opens a WebSocket with an extended CONNECT
(`:protocol websocket`, `sec-websocket-version: 13`, plus
`sec-websocket-extensions: permessage-deflate` with --deflate) and, with
wsproto as the client framing, checks echoes of text and binary messages of
several sizes, 200 pipelined messages, and the close handshake followed by the
server's end of the stream (FIN). See ws_checks.py for the list of checks.
QUIC flow control is left to aioquic, which queues stream data and sends it
as the peer's limits allow. --allow-open-stream: as in h2_client.py.

Invocation (needs: pip install aioquic==1.7.2 wsproto==1.3.2):

    python3 h3_client.py https://127.0.0.1:PORT/path --ca cert.pem [--deflate]
        [--subprotocol NAME ...] [--allow-open-stream]

Prints one `PASS ...` line per check and `ALL PASSED` on stdout, exit 0.
On a mismatch prints `FAIL ...` and exits 1; exits 2 if not done within 60 s.
"""

import argparse
import asyncio
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection, Setting
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset

from ws_checks import CheckFailed, passed, request_headers, run_checks, run_main


class H3ClientProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        self.settings_received = asyncio.Event()
        self.stream_events = {}  # stream id -> asyncio.Queue of H3 events
        self.terminated = None  # ConnectionTerminated event, once closed

    def open_stream(self):
        stream_id = self._quic.get_next_available_stream_id()
        self.stream_events[stream_id] = asyncio.Queue()
        return stream_id

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
            for queue in self.stream_events.values():
                queue.put_nowait(event)
        elif isinstance(event, StreamReset) and event.stream_id in self.stream_events:
            self.stream_events[event.stream_id].put_nowait(event)
        for http_event in self.http.handle_event(event):
            queue = self.stream_events.get(getattr(http_event, "stream_id", None))
            if queue is not None:
                queue.put_nowait(http_event)
        if self.http.received_settings is not None:
            self.settings_received.set()


class H3Transport:
    """One HTTP/3 request stream, as used by ws_checks."""

    def __init__(self, protocol, stream_id, empty_data_frames=False):
        self.protocol = protocol
        self.stream_id = stream_id
        self.events = protocol.stream_events[stream_id]
        self.empty_data_frames = empty_data_frames

    async def next_event(self):
        event = await self.events.get()
        if isinstance(event, ConnectionTerminated):
            raise CheckFailed(
                f"QUIC connection closed: error {event.error_code} {event.reason_phrase!r}"
            )
        if isinstance(event, StreamReset):
            raise CheckFailed(f"stream reset by the server, error {event.error_code:#x}")
        return event

    async def send(self, data, end_stream=False):
        # aioquic queues the data and sends it as QUIC flow control allows.
        if self.empty_data_frames and data:
            # A DATA frame of length 0 first: legal, and must change nothing.
            self.protocol.http.send_data(self.stream_id, b"", False)
        self.protocol.http.send_data(self.stream_id, data, end_stream)
        self.protocol.transmit()

    async def receive(self):
        while True:
            event = await self.next_event()
            if isinstance(event, DataReceived):
                return event.data, event.stream_ended
            if isinstance(event, HeadersReceived):  # trailers
                return b"", event.stream_ended


async def client(url, ca, deflate, subprotocols, allow_open_stream, empty_data_frames):
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, server_name=url.hostname
    )
    configuration.load_verify_locations(cafile=ca)
    port = url.port or 443
    created = []  # the protocol instance, to report why a handshake failed

    def create_protocol(*args, **kwargs):
        created.append(H3ClientProtocol(*args, **kwargs))
        return created[-1]

    try:
        async with connect(
            url.hostname, port, configuration=configuration, create_protocol=create_protocol
        ) as protocol:
            await websocket_session(
                protocol, url, deflate, subprotocols, allow_open_stream, empty_data_frames
            )
    except ConnectionError:
        closed = created[0].terminated if created else None
        if closed is None:
            raise
        raise CheckFailed(
            f"QUIC connection failed: error {closed.error_code:#x} {closed.reason_phrase!r}"
        ) from None


async def websocket_session(
    protocol, url, deflate, subprotocols, allow_open_stream, empty_data_frames
):
    passed(f"QUIC handshake with {url.hostname}:{url.port or 443}, certificate verified")

    await protocol.settings_received.wait()
    value = protocol.http.received_settings.get(Setting.ENABLE_CONNECT_PROTOCOL)
    if value != 1:
        raise CheckFailed(
            f"server SETTINGS_ENABLE_CONNECT_PROTOCOL is {value}, extended CONNECT not allowed"
        )
    passed("server sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1")

    stream_id = protocol.open_stream()
    transport = H3Transport(protocol, stream_id, empty_data_frames)
    protocol.http.send_headers(stream_id, request_headers(url, deflate, subprotocols))
    protocol.transmit()

    event = await transport.next_event()
    if not isinstance(event, HeadersReceived):
        raise CheckFailed(f"expected response headers, got {event!r:.80}")
    if event.stream_ended:
        status = dict(event.headers).get(b":status", b"?").decode()
        raise CheckFailed(f"server ended the stream with its response (status {status})")
    await run_checks(transport, event.headers, deflate, subprotocols, allow_open_stream)
    protocol.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://host:port/path")
    parser.add_argument("--ca", required=True, help="PEM CA certificate to verify the server")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--subprotocol", action="append", default=[], help="offer a subprotocol")
    parser.add_argument(
        "--allow-open-stream",
        action="store_true",
        help="after the close handshake, accept (with a NOTE) a server that never ends "
        "its side of the stream (Hypercorn 0.18 does this on HTTP/2)",
    )
    parser.add_argument(
        "--empty-data-frames",
        action="store_true",
        help="send an empty DATA frame before each piece of WebSocket data",
    )
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.scheme != "https" or not url.hostname:
        parser.error("URL must look like https://host:port/path")
    run_main(
        client(
            url,
            args.ca,
            args.deflate,
            args.subprotocol,
            args.allow_open_stream,
            args.empty_data_frames,
        )
    )


if __name__ == "__main__":
    main()
