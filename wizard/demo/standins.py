"""The demo's web stand-ins in one process: moto (AWS), Jenkins, Insights and the Analytics API.

``python -m wizard.demo.standins STATE_DIR LMS_HOST [PORTS]`` starts them on 127.0.0.1, writes
their ports to ``STATE_DIR/ports.json`` once all listen, and serves until SIGTERM (or SIGINT);
then it saves moto's account and the Jenkins stand-in's state in ``STATE_DIR``
(:mod:`wizard.demo.saved`). With ``PORTS`` (JSON: name -> port) it resumes: it loads what was
saved, and binds each stand-in to the port it had, or to a new one if that port is taken. A
saved state that cannot be loaded ends it with :data:`RESUME_FAILED`, before anything listens.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from pathlib import Path

PORTS_FILE = "ports.json"
RESUME_FAILED = 3


def bindable(port: int) -> int:
    """``port`` if a server can listen on it on 127.0.0.1 now, else 0 (any free port)."""
    if not port:
        return 0
    with socket.socket() as probe:
        # as the servers themselves do: a port left in TIME_WAIT by the last run is usable
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def serve(state: Path, lms_host: str, wanted: dict[str, int] | None = None) -> int:
    """Start every stand-in, record the ports, wait for a stop signal, stop them and save what
    they hold; the exit status."""
    from ..fsutil import atomic_write
    from . import cloud, saved, web_standins
    from .jenkins_standin import JenkinsStandin

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ports = wanted or {}
    jenkins = JenkinsStandin(settings_from_script=True)
    if wanted is not None:
        try:
            saved.restore_moto(state)
            saved.restore_jenkins(state, jenkins)
        except saved.Unreadable as exc:
            print(f"the saved state cannot be loaded: {exc}", file=sys.stderr, flush=True)
            return RESUME_FAILED
        # from now on it is in memory: a stand-in killed later must not resume from old files
        saved.forget(state)
    moto = cloud.start(bindable(ports.get("moto", 0)), fresh=wanted is None)
    jenkins.start(bindable(ports.get("jenkins", 0)))
    insights = web_standins.insights(lms_host=lms_host).start(bindable(ports.get("insights", 0)))
    api = web_standins.analytics_api().start(bindable(ports.get("api", 0)))
    listening = {
        "moto_url": moto.url,
        "jenkins": jenkins.port,
        "insights": insights.port,
        "api": api.port,
    }
    atomic_write(state / PORTS_FILE, json.dumps(listening) + "\n", mode=0o600)
    try:
        stopping.wait()
    finally:
        for site in (api, insights):
            site.stop()
        jenkins.stop()
        moto.stop()
        # nothing answers any more: what is saved is what the last request left
        try:
            saved.save_jenkins(state, jenkins)
            saved.save_moto(state)
        except saved.Unreadable as exc:
            print(f"{exc}: the next start starts over", file=sys.stderr, flush=True)
            saved.forget(state)
    return 0


if __name__ == "__main__":
    resume = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    sys.exit(serve(Path(sys.argv[1]), sys.argv[2], resume))
