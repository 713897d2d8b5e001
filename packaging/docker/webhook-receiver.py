#!/usr/bin/env python3
"""A minimal HTTPS webhook receiver for packaging/docker/test-image.sh (standard library only).

    webhook-receiver.py ADDRESS PORT CERT KEY LOG

Serves HTTPS on ADDRESS:PORT with the given certificate and key (PEM), answers every POST
with 200 and appends one JSON line per request to LOG: {"path", "headers", "body"} (headers
lower-cased, body as text). The test checks the signature from that log, so this stays a
dumb recorder. Runs until killed.
"""

import http.server
import json
import ssl
import sys
import threading


class Recorder(http.server.BaseHTTPRequestHandler):
    log_path = ""
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (the http.server naming)
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        entry = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        # Append and flush before answering, so a 200 means "recorded".
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, fmt, *args):
        sys.stderr.write("webhook-receiver: " + (fmt % args) + "\n")


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    address, port, cert, key, log_path = sys.argv[1:]
    Recorder.log_path = log_path
    server = http.server.ThreadingHTTPServer((address, int(port)), Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    sys.stderr.write(f"webhook-receiver: listening on https://{address}:{port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
