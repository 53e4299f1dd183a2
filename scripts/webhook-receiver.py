#!/usr/bin/env python3
"""A webhook receiver for Waymark's tests, on loopback.

It checks each delivery's signature the way Standard Webhooks describes,
written here by hand with hmac (not Waymark's code): the secret is
`whsec_` and base64; the signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
`webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>`.

usage: webhook-receiver.py PORT_FILE LOG_FILE SECRETS_FILE

It listens on 127.0.0.1 (a free port, written to PORT_FILE), reads the
secrets it trusts from SECRETS_FILE (one per line, read on every request),
and appends one JSON line per request to LOG_FILE. What it answers depends
on the path:
  /ok     204 when the signature checks, else 401
  /flaky  500 the first time it sees a webhook-id, then as /ok
  /down   500 always (after checking the signature)
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE, SECRETS_FILE = sys.argv[1:4]
SEEN = set()
LOCK = threading.Lock()


def verified(msg_id, timestamp, body, header):
    try:
        with open(SECRETS_FILE) as f:
            secrets = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        secrets = []
    signed = f"{msg_id}.{timestamp}.".encode() + body
    sent = [s.split(",", 1)[1] for s in header.split() if s.startswith("v1,")]
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, s) for s in sent):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        ok = verified(msg_id, timestamp, body, self.headers.get("webhook-signature", ""))
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        with LOCK:
            first = (self.path, msg_id) not in SEEN
            SEEN.add((self.path, msg_id))
        if not ok:
            status = 401
        elif self.path == "/down" or (self.path == "/flaky" and first):
            status = 500
        else:
            status = 204
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        entry = {
            "path": self.path,
            "id": msg_id,
            "timestamp": timestamp,
            "fresh": fresh,
            "verified": ok,
            "status": status,
            "type": event.get("type") if isinstance(event, dict) else None,
            "data": event.get("data") if isinstance(event, dict) else None,
            "content_type": self.headers.get("content-type"),
        }
        with LOCK, open(LOG_FILE, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402

os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
