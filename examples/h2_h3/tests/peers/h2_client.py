#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) test client on the `h2` package + wsproto.

Connects with TLS (ALPN h2, server certificate verified against --ca, server
name = the URL's host), waits for the server's SETTINGS and requires
SETTINGS_ENABLE_CONNECT_PROTOCOL=1, opens a WebSocket with an extended CONNECT
(`:protocol websocket`, `sec-websocket-version: 13`, plus
`sec-websocket-extensions: permessage-deflate` with --deflate) and, with
wsproto as the client framing, checks echoes of text and binary messages of
several sizes, 200 pipelined messages, and the close handshake followed by the
server's end of the stream. See ws_checks.py for the list of checks.

HTTP/2 flow control is respected: DATA is only sent within the peer's stream
and connection windows (waiting for WINDOW_UPDATE otherwise), and received
DATA is acknowledged with acknowledge_received_data as it is consumed.

--allow-open-stream tolerates (with a NOTE line) a server that answers the
close frame but never ends its side of the stream, as Hypercorn 0.18 does;
use it with hypercorn_echo.py.

Invocation (needs: pip install h2 wsproto==1.3.2):

    python3 h2_client.py https://127.0.0.1:PORT/path --ca cert.pem [--deflate]
        [--subprotocol NAME ...] [--allow-open-stream]

Prints one `PASS ...` line per check and `ALL PASSED` on stdout, exit 0.
On a mismatch prints `FAIL ...` and exits 1; exits 2 if not done within 60 s.
"""

import argparse
import asyncio
import ssl
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.settings import SettingCodes

from ws_checks import CheckFailed, passed, request_headers, run_checks, run_main


class H2Client:
    """An HTTP/2 client connection driven by a reader task; one stream is used."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.settings_received = asyncio.Event()
        self.window_changed = asyncio.Event()
        self.responses = {}  # stream id -> Future of the response headers
        self.incoming = {}  # stream id -> Queue of (data, flow controlled length, ended)
        self.closed_reason = None
        self.reader_task = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def start(self):
        self.conn.initiate_connection()
        self.flush()
        self.reader_task = asyncio.create_task(self.read_loop())

    def connection_lost(self, reason):
        self.closed_reason = reason
        self.window_changed.set()
        for future in self.responses.values():
            if not future.done():
                future.set_exception(CheckFailed(reason))
        for queue in self.incoming.values():
            queue.put_nowait(reason)

    async def read_loop(self):
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    self.connection_lost("server closed the TCP connection")
                    return
                for event in self.conn.receive_data(data):
                    self.handle_event(event)
                self.flush()
        except (OSError, h2.exceptions.ProtocolError) as exc:
            self.connection_lost(f"connection error: {type(exc).__name__}: {exc}")

    def handle_event(self, event):
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings_received.set()
            self.window_changed.set()  # INITIAL_WINDOW_SIZE may have changed
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_changed.set()
        elif isinstance(event, h2.events.ResponseReceived):
            future = self.responses.get(event.stream_id)
            if future is not None and not future.done():
                future.set_result((event.headers, event.stream_ended is not None))
        elif isinstance(event, h2.events.DataReceived):
            queue = self.incoming.get(event.stream_id)
            if queue is not None:
                queue.put_nowait((event.data, event.flow_controlled_length, False))
        elif isinstance(event, h2.events.StreamEnded):
            queue = self.incoming.get(event.stream_id)
            if queue is not None:
                queue.put_nowait((b"", 0, True))
        elif isinstance(event, h2.events.StreamReset):
            reason = f"stream reset by the server, error {event.error_code!r}"
            future = self.responses.get(event.stream_id)
            if future is not None and not future.done():
                future.set_exception(CheckFailed(reason))
            if event.stream_id in self.incoming:
                self.incoming[event.stream_id].put_nowait(reason)
            self.window_changed.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.connection_lost(
                f"server sent GOAWAY, error {event.error_code!r} {event.additional_data!r}"
            )

    async def open_stream(self, headers):
        stream_id = self.conn.get_next_available_stream_id()
        self.responses[stream_id] = asyncio.get_running_loop().create_future()
        self.incoming[stream_id] = asyncio.Queue()
        self.conn.send_headers(stream_id, headers, end_stream=False)
        self.flush()
        await self.writer.drain()
        return stream_id

    async def send_data(self, stream_id, data, end_stream):
        """Send DATA within the flow control windows; END_STREAM rides on the last frame."""
        view = memoryview(data)
        while True:
            if self.closed_reason:
                raise CheckFailed(self.closed_reason)
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if window <= 0 and len(view):
                # Stream or connection window exhausted: wait for WINDOW_UPDATE.
                self.window_changed.clear()
                await self.window_changed.wait()
                continue
            chunk, view = view[:window], view[window:]
            last = not len(view)
            if len(chunk) or (last and end_stream):
                self.conn.send_data(stream_id, chunk.tobytes(), end_stream=last and end_stream)
                self.flush()
                await self.writer.drain()
            if last:
                return

    async def receive_data(self, stream_id):
        item = await self.incoming[stream_id].get()
        if isinstance(item, str):
            raise CheckFailed(item)
        data, flow_controlled_length, ended = item
        if flow_controlled_length:
            # Consumed: give the credit back (h2 sends WINDOW_UPDATE as needed).
            try:
                self.conn.acknowledge_received_data(flow_controlled_length, stream_id)
            except h2.exceptions.StreamClosedError:
                pass
            self.flush()
        return data, ended

    async def close(self):
        self.conn.close_connection()
        self.flush()
        try:
            await self.writer.drain()
            self.writer.close()
            await self.writer.wait_closed()
        except OSError:
            pass
        self.reader_task.cancel()


class H2Transport:
    """One HTTP/2 stream, as used by ws_checks."""

    def __init__(self, client, stream_id):
        self.client = client
        self.stream_id = stream_id

    async def send(self, data, end_stream=False):
        await self.client.send_data(self.stream_id, data, end_stream)

    async def receive(self):
        return await self.client.receive_data(self.stream_id)


async def client(url, ca, deflate, subprotocols, allow_open_stream):
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    port = url.port or 443
    reader, writer = await asyncio.open_connection(
        url.hostname, port, ssl=context, server_hostname=url.hostname
    )
    alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    if alpn != "h2":
        raise CheckFailed(f"server selected ALPN {alpn!r}, not 'h2'")
    passed(f"TLS with {url.hostname}:{port}, certificate verified, ALPN h2")

    connection = H2Client(reader, writer)
    await connection.start()
    await connection.settings_received.wait()
    value = connection.conn.remote_settings.get(SettingCodes.ENABLE_CONNECT_PROTOCOL)
    if value != 1:
        raise CheckFailed(
            f"server SETTINGS_ENABLE_CONNECT_PROTOCOL is {value}, "
            "extended CONNECT (RFC 8441) not allowed"
        )
    passed("server sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1")

    stream_id = await connection.open_stream(request_headers(url, deflate, subprotocols))
    headers, ended = await connection.responses[stream_id]
    if ended:
        status = dict(headers).get(b":status", b"?").decode()
        raise CheckFailed(f"server ended the stream with its response (status {status})")
    transport = H2Transport(connection, stream_id)
    await run_checks(transport, headers, deflate, subprotocols, allow_open_stream)
    await connection.close()


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
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.scheme != "https" or not url.hostname:
        parser.error("URL must look like https://host:port/path")
    run_main(client(url, args.ca, args.deflate, args.subprotocol, args.allow_open_stream))


if __name__ == "__main__":
    main()
