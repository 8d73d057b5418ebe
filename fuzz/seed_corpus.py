#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/) from hand-made frames.

Run once; the fuzzer adds what it finds. Each decode seed starts with one
byte that picks the chunk size, then the frames.
"""
import os
import struct

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(b0, payload, masked):
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n <= 0xFFFF:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if masked:
        payload = bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))
        head += KEY
    return head + payload


def streams(masked):
    f = lambda b0, p: frame(b0, p, masked)
    return {
        "hello": f(0x81, b"Hello"),
        "fragmented": f(0x01, b"Hel") + f(0x89, b"p") + f(0x80, b"lo"),
        "binary_256": f(0x82, bytes(range(256))),
        "binary_frag": f(0x02, b"\x00\x01") + f(0x00, b"\x02") + f(0x80, b""),
        "close": f(0x88, b"\x03\xe8bye"),
        "close_empty": f(0x88, b""),
        "close_bad_code": f(0x88, b"\x03\xed"),
        "close_one_byte": f(0x88, b"\x03"),
        "ping_pong": f(0x89, b"ping") + f(0x8A, b"pong"),
        "utf8_split": f(0x01, "κό".encode()[:3]) + f(0x80, "κό".encode()[3:]),
        "utf8_invalid": f(0x81, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited"),
        "reserved_opcode": f(0x83, b""),
        "rsv1": f(0xC1, b"x"),
        "continuation_first": f(0x80, b"x"),
        "new_inside_fragmented": f(0x01, b"a") + f(0x81, b"b"),
        "control_not_fin": f(0x09, b""),
        "too_big": f(0x82, bytes(5000)),
        "text_mixed": f(0x81, "aé€😀".encode() * 20),
    }


def write(target, name, data):
    d = os.path.join(os.path.dirname(__file__), "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


for role, masked in (("decode_server", True), ("decode_client", False)):
    for i, (name, data) in enumerate(streams(masked).items()):
        write(role, name, bytes([i * 5]) + data)
for name, data in streams(True).items():
    write("frame_header", name, data[:14])
write("frame_header", "len64_top_bit", bytes([0x82, 0x7F, 0x80]) + bytes(7))
write("frame_header", "len16", bytes([0x82, 0x7E, 0x01, 0x00]))


def config_prefix(flags, sizes, durations, deflate=None, chunk=0):
    """connection_config's settings: flags, then limits, queue and send
    buffer as (tag, value) sizes, the fragment size if flags & 4, the close
    timeout and the two timers as durations, deflate fields if flags & 32."""
    out = bytes([flags])
    for tag, value in sizes:
        out += bytes([tag]) + (bytes([value]) if tag in (0, 1) else struct.pack("<Q", value))
    for tag, value in durations:
        out += bytes([tag]) + (b"" if tag == 0 else bytes([value]) if tag == 1 else struct.pack("<Q", value))
    if deflate is not None:
        out += bytes(deflate)
    return out + bytes([chunk])


masked = streams(True)
everything = b"".join(masked.values())
huge = (2, 1 << 62)
write("connection_config", "defaults_server",
      config_prefix(0, [huge, huge, huge, huge], [(0, 0)]) + everything)
write("connection_config", "tiny_limits_server",
      config_prefix(4 | 8 | 16, [(0, 3), (0, 8), (0, 1), (0, 40), (0, 0)],
                    [(1, 5), (1, 1), (0, 0)], chunk=6) + everything)
write("connection_config", "max_everything_client",
      config_prefix(1 | 4 | 8 | 16, [(1, 0), (1, 0), (1, 0), (1, 0), (1, 0)],
                    [(0, 0), (0, 0), (0, 0)]) + b"".join(streams(False).values()))
write("connection_config", "deflate_bad_params",
      config_prefix(32 | 0xC0, [huge, huge, (0, 2), huge], [(2, 1 << 63)],
                    deflate=[200, 3, 1, 0, 77, 0], chunk=16)
      + frame(0xC1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", True) + everything)
write("connection_config", "ping_flood",
      config_prefix(0, [huge, huge, (0, 4), (0, 200)], [(1, 9)])
      + frame(0x89, b"p", True) * 300)

# Proxy replies: byte 0 = chunk size - 1 (low 6 bits) | 0x80 with credentials.
for name, control, reply in [
    ("ok", 63, b"HTTP/1.1 200 Connection established\r\n\r\n"),
    ("ok_bytewise_interim", 0, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nVia: 1.1 p\r\n\r\nearly"),
    ("auth_required", 0x80 | 7, b"HTTP/1.1 407 Proxy Authentication Required\r\n"
     b"Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n"),
    ("forbidden", 5, b"HTTP/1.1 403 Forbidden\r\n\r\n"),
    ("garbage", 2, b"SSH-2.0-OpenSSH_9.2\r\n"),
    ("url_like", 63, b"http://user:p%40ss@[::1]:3128"),
    ("no_proxy_like", 63, b"localhost,.example.com,10.0.0.0/8,[::1]:443,*"),
]:
    write("proxy_http_connect", name, bytes([control]) + reply)

for name, control, reply in [
    ("no_auth_ipv4", 63, b"\x05\x00" + b"\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"),
    ("user_pass_domain_bytewise", 0x80, b"\x05\x02" + b"\x01\x00"
     + b"\x05\x00\x00\x03\x0bexample.com\x01\xbb" + b"tail"),
    ("ipv6_reply", 3, b"\x05\x00" + b"\x05\x00\x00\x04" + bytes(16) + b"\x00\x50"),
    ("auth_failed", 0x80 | 1, b"\x05\x02" + b"\x01\x01"),
    ("no_acceptable", 63, b"\x05\xff"),
    ("host_unreachable", 63, b"\x05\x00" + b"\x05\x04\x00\x01" + bytes(6)),
    ("bad_address_type", 63, b"\x05\x00" + b"\x05\x00\x00\x09"),
]:
    write("proxy_socks5", name, bytes([control]) + reply)
