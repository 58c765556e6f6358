"""Small HTTP servers on 127.0.0.1 standing in for Insights and the Analytics API.

Each answers a fixed table of paths (status, headers, body), like the real service's first
pages do: Insights' login redirects through its OAuth2 entry to the LMS, the API's ``/health/``
returns its JSON status. They stand in because neither service can be installed here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[int, Mapping[str, str], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Site:
    routes: dict[str, Route]
    seen: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _server: _Server | None = None

    def start(self, port: int = 0) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.seen.append(self.path)
                site.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, body = site.routes.get(
                    self.path.split("?", 1)[0], (404, {}, "not found")
                )
                data = body.encode("utf-8")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_PUT = do_GET

        self._server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


LMS = "lms.example.test"


def insights(lms_host: str = LMS, *, broken: bool = False, auto_auth: bool = False) -> Site:
    """Insights: the landing page, and ``/login/`` → its OAuth2 entry → the LMS."""
    if broken:
        return Site({"/": (502, {"Content-Type": "text/html"}, "<h1>502 Bad Gateway</h1>")})
    login: Route = (
        (200, {"Content-Type": "text/html"}, "<p>logged in automatically</p>")
        if auto_auth
        else (302, {"Location": "/auth/login/edx-oauth2/?next=%2Fcourses%2F"}, "")
    )
    return Site(
        {
            "/": (200, {"Content-Type": "text/html"}, "<h1>Insights</h1>"),
            "/login/": login,
            "/auth/login/edx-oauth2/": (
                302,
                {"Location": f"https://{lms_host}/oauth2/authorize?client_id=insights"},
                "",
            ),
        }
    )


def analytics_api(*, database: bool = True) -> Site:
    """The Analytics API's health endpoint, with or without its database."""
    state = "OK" if database else "UNAVAILABLE"
    body = json.dumps({"overall_status": state, "detailed_status": {"database_connection": state}})
    return Site(
        {"/health/": (200 if database else 503, {"Content-Type": "application/json"}, body)}
    )
