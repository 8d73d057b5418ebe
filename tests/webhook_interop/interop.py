"""Sign and verify webhooks with the reference Python libraries.

Driven by tests/webhook_interop.rs, which checks webwire against the PyPI
packages `standardwebhooks`, `svix` and `stripe`:

    interop.py check
    interop.py sign   SCHEME SECRET ID TIMESTAMP BODY_FILE
    interop.py verify SCHEME SECRET BODY_FILE 'name: value'...
    interop.py batch  < requests

`sign` prints the headers, one `name: value` per line. `verify` prints `ok`
(exit 0) or `error: ...` (exit 1). Verification uses the real clock, as the
libraries do.

`batch` runs many requests in one process (importing `stripe` is slow): each
input line is tab-separated, the body hex-encoded,

    sign<TAB>SCHEME<TAB>SECRET<TAB>ID<TAB>TIMESTAMP<TAB>BODY_HEX
    verify<TAB>SCHEME<TAB>SECRET<TAB>BODY_HEX<TAB>name: value<TAB>...

and each answer is one line: the headers tab-separated, or `ok`, or
`error: ...`.
"""

import sys
from datetime import datetime, timezone


def check():
    import standardwebhooks  # noqa: F401
    import stripe  # noqa: F401
    import svix  # noqa: F401

    print("ok")


def sign(scheme, secret, msg_id, ts, body):
    """The headers (a list of `name: value`) that the library signs `body` with."""
    body = body.decode("utf-8")
    ts = int(ts)
    if scheme == "standard":
        from standardwebhooks.webhooks import Webhook

        sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), body)
        return [f"webhook-id: {msg_id}", f"webhook-timestamp: {ts}", f"webhook-signature: {sig}"]
    if scheme == "svix":
        from svix.webhooks import Webhook

        sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), body)
        return [f"svix-id: {msg_id}", f"svix-timestamp: {ts}", f"svix-signature: {sig}"]
    if scheme == "stripe":
        import stripe

        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=ts)
        return [f"stripe-signature: {header}"]
    raise SystemExit(f"unknown scheme {scheme}")


def verify(scheme, secret, body, header_lines):
    """`ok`, or `error: ...` if the library rejects the request."""
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    try:
        if scheme == "standard":
            from standardwebhooks.webhooks import Webhook

            Webhook(secret).verify(body, headers, json_parse=False)
        elif scheme == "svix":
            from svix.webhooks import Webhook

            Webhook(secret).verify(body, headers)
        elif scheme == "stripe":
            import stripe

            lower = {k.lower(): v for k, v in headers.items()}
            stripe.WebhookSignature.verify_header(body, lower.get("stripe-signature"), secret, tolerance=300)
        else:
            raise SystemExit(f"unknown scheme {scheme}")
    except Exception as e:  # any library error is a rejection
        return f"error: {type(e).__name__}: {e}".replace("\n", " ")
    return "ok"


def batch():
    for line in sys.stdin:
        fields = line.rstrip("\n").split("\t")
        if fields[0] == "sign":
            _, scheme, secret, msg_id, ts, body_hex = fields
            print("\t".join(sign(scheme, secret, msg_id, ts, bytes.fromhex(body_hex))), flush=True)
        elif fields[0] == "verify":
            print(verify(fields[1], fields[2], bytes.fromhex(fields[3]), fields[4:]), flush=True)
        else:
            raise SystemExit(f"unknown request {fields[0]}")


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, rest = argv[0], argv[1:]
    if cmd == "check":
        check()
    elif cmd == "sign":
        scheme, secret, msg_id, ts, body_file = rest
        with open(body_file, "rb") as f:
            print("\n".join(sign(scheme, secret, msg_id, ts, f.read())))
    elif cmd == "verify":
        with open(rest[2], "rb") as f:
            answer = verify(rest[0], rest[1], f.read(), rest[3:])
        print(answer)
        sys.exit(0 if answer == "ok" else 1)
    elif cmd == "batch":
        batch()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
