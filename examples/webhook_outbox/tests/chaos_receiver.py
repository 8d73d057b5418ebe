"""A misbehaving Standard Webhooks receiver for the outbox's delivery tests.

Verification is done by the reference `standardwebhooks` library (PyPI), so
the outbox is checked against a receiver nobody here wrote. Standard library
otherwise.

    chaos_receiver.py --secret ENDPOINT_ID=whsec_... [--secret ...]
                      [--port N] [--log FILE] [--seed N]
                      [--fail-rate F] [--retry-after-rate F]
                      [--offline-every S --offline-for D]
                      [--tls-cert CERT.pem --tls-key KEY.pem]

A POST to /ENDPOINT_ID is verified with that endpoint's secret:

- not verified: 401, logged with "bad": true;
- verified: 500 with probability --fail-rate, else 503 with `Retry-After: 1`
  with probability --retry-after-rate, else 200;
- unknown path: 404, other methods: 405 (neither logged).

--log appends one JSON line per logged request, flushed at once:

    {"endpoint": "ep", "id": "msg_1", "status": 200, "t": 1700000000.1}

plus "mismatch": true if a verified body differs from an earlier verified
delivery of the same webhook-id to the same endpoint, and "lost": true if
the answer could not be written (the connection was cut by going offline).

With --offline-every S --offline-for D, every S seconds the listening socket
is closed and open connections are cut for D seconds (new connections are
refused), then the same port is listened on again.

With --tls-cert and --tls-key it serves HTTPS (Python's ssl module).

Prints `listening on http://127.0.0.1:PORT` (https with TLS) once, when
first ready. Exits 0
on SIGTERM or SIGINT.
"""

import argparse
import errno
import hashlib
import json
import random
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class State:
    """What outlives one listening socket: shared by every handler thread."""

    def __init__(self, args):
        self.webhooks = {}
        for spec in args.secret:
            endpoint, sep, secret = spec.partition("=")
            if not sep or not endpoint:
                sys.exit(f"--secret wants ENDPOINT_ID=whsec_..., got {spec!r}")
            self.webhooks[endpoint] = Webhook(secret)
        self.fail_rate = args.fail_rate
        self.retry_after_rate = args.retry_after_rate
        self.random = random.Random(args.seed)
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        self.lock = threading.Lock()
        self.bodies = {}  # (endpoint, webhook-id) -> sha256 of the verified body
        self.connections = set()  # open client sockets, cut when going offline
        self.offline = False

    def draw(self):
        with self.lock:
            return self.random.random()

    def first_seen(self, endpoint, msg_id, body):
        """False if this id was verified before with another body."""
        digest = hashlib.sha256(body).hexdigest()
        with self.lock:
            return self.bodies.setdefault((endpoint, msg_id), digest) == digest

    def write_log(self, record):
        if self.log is None:
            return
        line = json.dumps(record) + "\n"
        with self.lock:
            self.log.write(line)
            self.log.flush()

    def set_offline(self, offline):
        with self.lock:
            self.offline = offline
            connections = list(self.connections) if offline else []
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as a real receiver behind a proxy would offer; going
    # offline cuts kept-alive connections so they cannot dodge the outage.
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle kept-alive connection's thread does not live forever
    state = None  # set in main()

    def setup(self):
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)
            offline = self.state.offline
        if offline:  # accepted just before the socket closed: cut it too
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish(self):
        with self.state.lock:
            self.state.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):
        pass  # one stderr line per request would swamp a throughput run

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length", 0)))

    def answer(self, status, extra_headers=()):
        """Sends a bodiless answer; False if the connection was gone."""
        try:
            self.send_response(status)
            for name, value in extra_headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False

    def do_POST(self):
        body = self.read_body()
        endpoint = self.path.lstrip("/").split("?")[0]
        webhook = self.state.webhooks.get(endpoint)
        if webhook is None:
            self.answer(404)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id")
        record = {"endpoint": endpoint, "id": msg_id}
        try:
            # json_parse=False: an unparsable body is not a bad signature.
            webhook.verify(body, headers, json_parse=False)
        except Exception:  # WebhookVerificationError, but also malformed headers, non-UTF-8
            record.update(status=401, bad=True)
            sent = self.answer(401)
        else:
            if not self.state.first_seen(endpoint, msg_id, body):
                record["mismatch"] = True
            r = self.state.draw()
            if r < self.state.fail_rate:
                record["status"] = 500
                sent = self.answer(500)
            elif r < self.state.fail_rate + self.state.retry_after_rate:
                record["status"] = 503
                sent = self.answer(503, [("Retry-After", "1")])
            else:
                record["status"] = 200
                sent = self.answer(200)
        if not sent:
            record["lost"] = True
        record["t"] = time.time()
        self.state.write_log(record)

    def _not_allowed(self):
        self.answer(405, [("Allow", "POST")])

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs under a concurrent sender
    daemon_threads = True  # closing never waits for kept-alive connections

    def server_bind(self):
        # HTTPServer.server_bind would call getfqdn(), a reverse DNS lookup
        # that can stall for seconds; nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # cut connections are expected
            super().handle_error(request, client_address)


def listen(port, patience, tls=None):
    """A bound, listening server on 127.0.0.1:port, retrying while the port is
    busy (the previous socket's connections may still hold it briefly); with
    `tls` (an ssl.SSLContext), it speaks HTTPS."""
    deadline = time.monotonic() + patience
    while True:
        try:
            server = Server(("127.0.0.1", port), Handler)
            if tls is not None:
                server.socket = tls.wrap_socket(server.socket, server_side=True)
            return server
        except OSError as e:
            if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--secret", action="append", default=[], metavar="ENDPOINT_ID=whsec_...")
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--retry-after-rate", type=float, default=0.0)
    p.add_argument("--offline-every", type=float, metavar="S")
    p.add_argument("--offline-for", type=float, metavar="D")
    p.add_argument("--seed", type=int)
    p.add_argument("--tls-cert", metavar="CERT.pem", help="serve HTTPS with this certificate chain")
    p.add_argument("--tls-key", metavar="KEY.pem")
    args = p.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    if not args.secret:
        p.error("at least one --secret is needed")
    if not (0 <= args.fail_rate and 0 <= args.retry_after_rate and args.fail_rate + args.retry_after_rate <= 1):
        p.error("--fail-rate and --retry-after-rate must be >= 0 and sum to at most 1")
    if (args.offline_every is None) != (args.offline_for is None):
        p.error("--offline-every and --offline-for go together")
    if args.offline_every is not None and (args.offline_every <= 0 or args.offline_for < 0):
        p.error("--offline-every must be > 0 and --offline-for >= 0")

    Handler.state = State(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    try:
        server = listen(args.port, 0, tls)
    except OSError as e:
        sys.exit(f"chaos_receiver: cannot listen on port {args.port}: {e}")
    port = server.server_address[1]
    scheme = "https" if tls else "http"
    print(f"listening on {scheme}://127.0.0.1:{port}", flush=True)
    while True:
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        serving.start()
        stop.wait(args.offline_every)  # None: until stopped
        server.shutdown()  # stops accepting...
        server.server_close()  # ...and closes the socket: connections are refused
        Handler.state.set_offline(True)
        if stop.is_set() or stop.wait(args.offline_for):
            return
        try:
            server = listen(port, 10, tls)
        except OSError as e:
            sys.exit(f"chaos_receiver: cannot listen again on port {port}: {e}")
        Handler.state.set_offline(False)


if __name__ == "__main__":
    main()
