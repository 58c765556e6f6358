"""A Jenkins stand-in: a small HTTP server on loopback answering the REST calls the wizard makes.

It is a stand-in because no Jenkins server can be installed on these machines (not in Debian, and
no package registry here ships the war). It implements exactly what the wizard uses, the way
Jenkins answers it:

- every response carries the ``X-Jenkins`` header (the health check reads the version from it);
- ``GET crumbIssuer/api/json`` hands out a crumb, and every POST without it is refused with 403
  (python-jenkins fetches and sends it);
- ``GET api/json`` lists the jobs (``?tree=jobs[...]``) and the built-in node's ``numExecutors``;
- ``GET job/<name>/api/json?tree=name`` (404 for an unknown job), ``GET job/<name>/config.xml``;
- ``POST createItem?name=<name>`` and ``POST job/<name>/config.xml`` with the XML as the body;
  like Jenkins (XStream) it stores the XML re-serialised: an XML 1.1 declaration and plugin
  attributes stamped with a version, so nothing may rely on getting back the same bytes;
- ``POST scriptText``: Groovy cannot run here. The script is recorded (``scripts``) and the
  stand-in replies with ``script_output`` set by the test, which says so; with
  ``settings_from_script`` (demo mode) it reads the executors count and admin e-mail the
  wizard's settings script sets, keeps them and prints them back as that script would.

Every POST body is kept in ``posted`` so tests can compare what the wizard sent with what
jenkins-job-builder renders. ``ipv6_only=True`` listens on ``[::1]`` only (the runbook's "Jenkins
bound on IPv6" case); ``only_host`` answers as Jenkins only for that ``Host`` header (nginx's
jenkins site on the Insights port), anything else gets a 404 from "nginx".
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

VERSION = "2.426.3"
CRUMB_FIELD = "Jenkins-Crumb"
PLUGIN_VERSIONS = {"mailer": "463.vedf8358e006b_", "build-timeout": "1.31", "ssh-agent": "346.vda"}


def stored_form(xml: str) -> str:
    """What Jenkins keeps and serves back for a posted config.xml (XStream's re-serialisation)."""
    body = re.sub(r"^<\?xml[^>]*\?>\s*", "", xml.lstrip())
    body = re.sub(
        r'plugin="([A-Za-z0-9_.-]+)"',
        lambda m: f'plugin="{m.group(1)}@{PLUGIN_VERSIONS.get(m.group(1), "1.0")}"',
        body,
    )
    return "<?xml version='1.1' encoding='UTF-8'?>\n" + body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _V6Server(_Server):
    address_family = socket.AF_INET6


@dataclass
class JenkinsStandin:
    """Start with :meth:`start`, stop with :meth:`stop`; jobs live in ``jobs`` (name -> XML)."""

    ipv6_only: bool = False
    version: str = VERSION
    only_host: str | None = None
    executors: int = 2
    admin_email: str = "address not configured yet <nobody@nowhere>"
    crumbs: bool = True
    script_output: str = ""
    settings_from_script: bool = False
    jobs: dict[str, str] = field(default_factory=dict)
    posted: list[tuple[str, str]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    crumb: str = field(default_factory=lambda: secrets.token_hex(16))
    _server: _Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return "::1" if self.ipv6_only else "127.0.0.1"

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "[::1]" if self.ipv6_only else "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def start(self, port: int = 0) -> JenkinsStandin:
        server_class = _V6Server if self.ipv6_only else _Server
        self._server = server_class((self.host, port), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="jenkins-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def add_job(self, name: str, xml: str) -> None:
        """A job made by hand in the Jenkins UI (not through the wizard)."""
        with self._lock:
            self.jobs[name] = stored_form(xml)

    def posts_to(self, suffix: str) -> list[str]:
        return [body for path, body in self.posted if path.endswith(suffix)]


def _settings_reply(jenkins: JenkinsStandin, script: str) -> str:
    """What the settings script prints, from the values it sets (kept as Jenkins would)."""
    executors = re.search(r"setNumExecutors\((\d+)\)", script)
    admin = re.search(r"setAdminAddress\('((?:[^'\\]|\\.)*)'\)", script)
    if executors:
        jenkins.executors = int(executors.group(1))
    if admin:
        jenkins.admin_email = re.sub(r"\\(.)", r"\1", admin.group(1))
    return f"executors={jenkins.executors} admin={jenkins.admin_email}\n"


def _handler(jenkins: JenkinsStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read ``requests`` instead

        # --- plumbing -----------------------------------------------------------------

        def _send(self, status: int, body: str = "", content_type: str = "text/plain") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            if jenkins.only_host is None or self._host() == jenkins.only_host:
                self.send_header("X-Jenkins", jenkins.version)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, data: Any) -> None:
            self._send(200, json.dumps(data), "application/json")

        def _host(self) -> str:
            return (self.headers.get("Host") or "").split(":")[0]

        def _body(self) -> str:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length).decode("utf-8")

        def _route(self) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            return unquote(parts.path), parse_qs(parts.query)

        def _job_of(self, path: str, suffix: str) -> str | None:
            match = re.fullmatch(r"/job/([^/]+)/" + re.escape(suffix), path)
            return match.group(1) if match else None

        # --- verbs --------------------------------------------------------------------

        def do_GET(self) -> None:
            path, _query = self._route()
            jenkins.requests.append(("GET", self.path))
            if jenkins.only_host is not None and self._host() != jenkins.only_host:
                self._send(404, "nginx: no such site")
                return
            if path == "/":
                self._send(200, "<html>Jenkins</html>", "text/html")
            elif path == "/crumbIssuer/api/json" and jenkins.crumbs:
                self._json(
                    {
                        "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                        "crumb": jenkins.crumb,
                        "crumbRequestField": CRUMB_FIELD,
                    }
                )
            elif path == "/api/json":
                with jenkins._lock:
                    names = sorted(jenkins.jobs)
                self._json(
                    {
                        "_class": "hudson.model.Hudson",
                        "numExecutors": jenkins.executors,
                        "jobs": [
                            {
                                "_class": "hudson.model.FreeStyleProject",
                                "name": name,
                                "url": f"{jenkins.url}job/{name}/",
                                "color": "notbuilt",
                            }
                            for name in names
                        ],
                    }
                )
            elif (name := self._job_of(path, "api/json")) is not None:
                if name in jenkins.jobs:
                    self._json({"_class": "hudson.model.FreeStyleProject", "name": name})
                else:
                    self._send(404, "Not Found")
            elif (name := self._job_of(path, "config.xml")) is not None:
                with jenkins._lock:
                    xml = jenkins.jobs.get(name)
                if xml is None:
                    self._send(404, "Not Found")
                else:
                    self._send(200, xml, "application/xml")
            else:
                self._send(404, "Not Found")

        def do_POST(self) -> None:
            path, query = self._route()
            body = self._body()
            jenkins.requests.append(("POST", self.path))
            if jenkins.crumbs and self.headers.get(CRUMB_FIELD) != jenkins.crumb:
                self._send(403, "No valid crumb was included in the request")
                return
            jenkins.posted.append((path, body))
            if path == "/createItem":
                new = (query.get("name") or [""])[0]
                with jenkins._lock:
                    if not new or new in jenkins.jobs:
                        self._send(400, f"A job already exists with the name '{new}'")
                        return
                    jenkins.jobs[new] = stored_form(body)
                self._send(200)
            elif (name := self._job_of(path, "config.xml")) is not None:
                with jenkins._lock:
                    if name not in jenkins.jobs:
                        self._send(404, "Not Found")
                        return
                    jenkins.jobs[name] = stored_form(body)
                self._send(200)
            elif path == "/scriptText":
                script = (parse_qs(body).get("script") or [""])[0]
                jenkins.scripts.append(script)
                output = jenkins.script_output
                if jenkins.settings_from_script:
                    output = _settings_reply(jenkins, script)
                # python-jenkins appends print(")]}.") and expects it back as the last line.
                self._send(200, output + ")]}.")
            else:
                self._send(404, "Not Found")

    return Handler
