"""Send webhooks signed by the reference `standardwebhooks` library (PyPI).

Driven by tests/receiver.rs, so that the receiver is checked against a
sender nobody here wrote:

    sender.py check
    sender.py send [--concurrent] < requests

`check` prints `ok` if `standardwebhooks` can be imported. `send` reads one
request a line, tab-separated,

    URL<TAB>SECRET<TAB>MSG_ID<TAB>BODY<TAB>FLAG

signs BODY for MSG_ID at the current time with
`standardwebhooks.Webhook(SECRET).sign(...)`, POSTs it with urllib, and
prints one line per request, in input order: the response's status code,
or `error: ...` if no response came. FLAG is `-`, or `tamper` to send a
body other than the one signed. Requests are sent one after another, or
all at once (one thread each) with `--concurrent`.
"""

import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone


def check():
    import standardwebhooks  # noqa: F401

    print("ok")


def post(url, secret, msg_id, body, flag):
    """The status code of one signed POST, or `error: ...`."""
    from standardwebhooks.webhooks import Webhook

    now = datetime.now(tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id, now, body)
    sent = body + " tampered" if flag == "tamper" else body
    request = urllib.request.Request(
        url,
        data=sent.encode("utf-8"),
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except OSError as e:
        return f"error: {e}"


def send(concurrent):
    requests = [line.rstrip("\n").split("\t") for line in sys.stdin if line.strip()]
    for r in requests:
        if len(r) != 5:
            raise SystemExit(f"expected 5 tab-separated fields, got {r!r}")
    answers = [None] * len(requests)
    if concurrent:
        start = threading.Barrier(len(requests))

        def run(i, r):
            start.wait()
            answers[i] = post(*r)

        threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for i, r in enumerate(requests):
            answers[i] = post(*r)
    for a in answers:
        print(a)


def main():
    args = sys.argv[1:]
    if args == ["check"]:
        check()
    elif args in (["send"], ["send", "--concurrent"]):
        send(concurrent=len(args) == 2)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
