#!/usr/bin/env python3
"""WebSocket echo server over HTTP/3 (RFC 9220) on aioquic + wsproto: test peer.

aioquic's H3Connection always sends SETTINGS_ENABLE_CONNECT_PROTOCOL=1 and
accepts the `:protocol` pseudo-header, so this server handles extended CONNECT
(`:method CONNECT`, `:protocol websocket`) itself: it answers `:status 200`
(with `sec-websocket-protocol` = the first offered subprotocol, and
`sec-websocket-extensions` when permessage-deflate is offered and accepted),
then runs RFC 6455 framing with wsproto on the stream's DATA (there is no
HTTP/1.1 handshake: the CONNECT replaces it). Text is echoed as text, binary as
binary, pings are answered, and a close frame is answered with a close frame
after which the stream is ended (FIN). Messages are limited to 16 MiB (close
1009 beyond that). Other CONNECTs get 400, other requests 404.

Invocation (needs: pip install aioquic==1.7.2 wsproto==1.3.2):

    python3 h3_echo_server.py --cert cert.pem --key key.pem [--port 0]

UDP on 127.0.0.1; --port 0 (the default) picks a free port. When ready it
prints exactly `listening on https://127.0.0.1:PORT` on stdout; for each
WebSocket it logs `websocket over HTTP/3 path=...` on stderr.
"""

import argparse
import asyncio
import socket
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, StreamReset
from wsproto import Connection, ConnectionType
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.handshake import server_extensions_handshake
from wsproto.utilities import split_comma_header

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
SERVER_NAME = b"webwire-test-h3-echo"


def log(line):
    print(line, file=sys.stderr, flush=True)


class WebSocketSession:
    """One WebSocket carried by one HTTP/3 request stream."""

    def __init__(self, http, stream_id, extensions):
        self.http = http
        self.stream_id = stream_id
        self.ws = Connection(ConnectionType.SERVER, extensions)
        self.finished = False  # our side of the stream has been ended
        self.parts = []  # fragments of the message being received
        self.size = 0

    def send(self, event, end_stream=False):
        self.http.send_data(self.stream_id, self.ws.send(event), end_stream=end_stream)
        if end_stream:
            self.finished = True

    def data_received(self, data, stream_ended):
        if data and self.ws.state in (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING):
            self.ws.receive_data(data)
            for event in self.ws.events():
                self.handle_event(event)
                if self.finished:
                    break
        if stream_ended and not self.finished:
            # The peer ended its side without (completing) a close handshake.
            log(f"stream {self.stream_id}: peer ended the stream, ws state {self.ws.state.name}")
            self.http.send_data(self.stream_id, b"", end_stream=True)
            self.finished = True

    def handle_event(self, event):
        if isinstance(event, Message):
            if isinstance(event, TextMessage):
                self.size += len(event.data.encode("utf-8"))
            else:
                self.size += len(event.data)
            if self.size > MAX_MESSAGE_SIZE:
                log(f"stream {self.stream_id}: message over {MAX_MESSAGE_SIZE} bytes, closing 1009")
                self.send(CloseConnection(code=1009, reason="message too big"), end_stream=True)
                return
            self.parts.append(event.data)
            if event.message_finished:
                if isinstance(event, TextMessage):
                    self.send(TextMessage(data="".join(self.parts)))
                else:
                    self.send(BytesMessage(data=b"".join(self.parts)))
                self.parts = []
                self.size = 0
        elif isinstance(event, Ping):
            self.send(event.response())
        elif isinstance(event, CloseConnection):
            log(f"stream {self.stream_id}: close code={event.code} reason={event.reason!r}")
            if self.ws.state == ConnectionState.REMOTE_CLOSING:
                # Peer started the close handshake: answer it, then end the stream.
                self.send(event.response(), end_stream=True)
            elif self.ws.state == ConnectionState.OPEN:
                # wsproto reports a protocol violation this way: close with its code.
                self.send(CloseConnection(code=event.code, reason=event.reason), end_stream=True)
            else:
                # Answer to a close we sent; our side of the stream is already ended.
                self.finished = True


class H3EchoProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = None
        self.sessions = {}  # stream id -> WebSocketSession
        self.ignored = set()  # request streams answered with an error status

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self.http = H3Connection(self._quic)
        elif isinstance(event, StreamReset) and event.stream_id in self.sessions:
            log(f"stream {event.stream_id}: reset by peer, error {event.error_code}")
            del self.sessions[event.stream_id]
        if self.http is None:
            return
        for http_event in self.http.handle_event(event):
            self.http_event_received(http_event)

    def http_event_received(self, event):
        session = self.sessions.get(event.stream_id)
        if isinstance(event, HeadersReceived) and session is None:
            if event.stream_id not in self.ignored:
                self.request_received(event)
            return
        if session is None:
            return  # data on a stream we answered with an error status
        if isinstance(event, DataReceived):
            session.data_received(event.data, event.stream_ended)
        elif isinstance(event, HeadersReceived) and event.stream_ended:
            session.data_received(b"", True)  # trailers ending the stream
        if session.finished:
            del self.sessions[event.stream_id]

    def respond(self, stream_id, status, end_stream, extra_headers=()):
        headers = [(b":status", str(status).encode()), (b"server", SERVER_NAME)]
        self.http.send_headers(stream_id, headers + list(extra_headers), end_stream=end_stream)

    def request_received(self, event):
        stream_id = event.stream_id
        method = protocol = path = None
        version = None
        subprotocols = []
        extension_offers = []
        for name, value in event.headers:
            if name == b":method":
                method = value.decode()
            elif name == b":protocol":
                protocol = value.decode()
            elif name == b":path":
                path = value.decode()
            elif name == b"sec-websocket-version":
                version = value.decode()
            elif name == b"sec-websocket-protocol":
                subprotocols += split_comma_header(value)
            elif name == b"sec-websocket-extensions":
                extension_offers += split_comma_header(value)

        if method != "CONNECT":
            log(f"stream {stream_id}: {method} {path} -> 404")
            self.respond(stream_id, 404, end_stream=True)
            self.ignored.add(stream_id)
            return
        if protocol != "websocket" or version != "13":
            log(f"stream {stream_id}: CONNECT protocol={protocol} version={version} -> 400")
            self.respond(stream_id, 400, end_stream=True)
            self.ignored.add(stream_id)
            return

        extra = []
        if subprotocols:
            extra.append((b"sec-websocket-protocol", subprotocols[0].encode()))
        extensions = []
        deflate = PerMessageDeflate()
        accepted = server_extensions_handshake(extension_offers, [deflate])
        if accepted:
            extra.append((b"sec-websocket-extensions", accepted))
            extensions.append(deflate)
        log(
            f"websocket over HTTP/3 path={path} subprotocols=[{', '.join(subprotocols)}] "
            f"extensions={accepted.decode() if accepted else '-'}"
        )
        self.respond(stream_id, 200, end_stream=False, extra_headers=extra)
        session = WebSocketSession(self.http, stream_id, extensions)
        if event.stream_ended:
            session.data_received(b"", True)
        else:
            self.sessions[stream_id] = session


def pick_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="PEM certificate chain")
    parser.add_argument("--key", required=True, help="PEM private key")
    parser.add_argument("--port", type=int, default=0, help="UDP port, 0 = pick a free one")
    args = parser.parse_args()

    configuration = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    configuration.load_cert_chain(args.cert, args.key)

    port = args.port or pick_udp_port()
    await serve("127.0.0.1", port, configuration=configuration, create_protocol=H3EchoProtocol)
    print(f"listening on https://127.0.0.1:{port}", flush=True)
    await asyncio.Future()  # serve forever


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
