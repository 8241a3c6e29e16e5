"""A pass-through HTTP proxy in front of the S3 server that can hold chosen requests: the tests
use it to stop a delta-rs writer exactly between its Parquet files and its commit (the put of
`_delta_log/<n>.json`), to kill it there or to release two writers' commits at once."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from workbook import http_relay

COMMIT = re.compile(r"/_delta_log/\d{20}\.json$")


class HoldingProxy:
    """Forwards every request to `target` (host, port); a PUT whose path matches `COMMIT` waits
    until `release()` while `holding` is set. `held` counts the requests that waited."""

    def __init__(self, target_port: int):
        self.target_port, self.held, self.holding, self.forward = target_port, 0, True, True
        self.gate, self.lock = threading.Event(), threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "PUT" and COMMIT.search(self.path.split("?")[0]) and (
                        proxy.holding):
                    with proxy.lock:
                        proxy.held += 1
                    proxy.gate.wait()
                    if not proxy.forward:  # dropped: the held request never reaches S3
                        self.close_connection = True
                        return
                http_relay.forward(self, "127.0.0.1", proxy.target_port, body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed client's broken pipe is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.holding = False
        self.gate.set()

    def drop(self) -> None:
        """Let the held requests go, without forwarding them (their sender was killed)."""
        self.forward = False
        self.release()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
