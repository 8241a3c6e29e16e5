"""Forwarding one HTTP request to another server and its answer back: the core of the small
proxies put in front of the S3 server (the Prefect lesson's flaky S3, the tests' holding proxy)."""

import http.client
from http.server import BaseHTTPRequestHandler

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}  # not forwarded


def forward(handler: BaseHTTPRequestHandler, host: str, port: int, body: bytes | None) -> None:
    """Send `handler`'s request (its body already read) to host:port, and the answer back."""
    upstream = http.client.HTTPConnection(host, port, timeout=60)
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
    upstream.request(handler.command, handler.path, body=body, headers=headers)
    answer = upstream.getresponse()
    data = answer.read()
    handler.send_response(answer.status)
    for k, v in answer.getheaders():
        if k.lower() not in HOP | {"content-length"}:
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)
    upstream.close()
