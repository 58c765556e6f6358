"""The demo's web stand-ins in one process: moto (AWS), Jenkins, Insights and the Analytics API.

``python -m wizard.demo.standins STATE_DIR LMS_HOST`` starts them on 127.0.0.1, writes their
ports to ``STATE_DIR/ports.json`` once all listen, and serves until SIGTERM (or SIGINT).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

PORTS_FILE = "ports.json"


def serve(state: Path, lms_host: str) -> None:
    """Start every stand-in, record the ports, wait for a stop signal, stop them."""
    from ..fsutil import atomic_write
    from . import cloud, web_standins
    from .jenkins_standin import JenkinsStandin

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    moto = cloud.start()
    jenkins = JenkinsStandin(settings_from_script=True).start()
    insights = web_standins.insights(lms_host=lms_host).start()
    api = web_standins.analytics_api().start()
    ports = {
        "moto_url": moto.url,
        "jenkins": jenkins.port,
        "insights": insights.port,
        "api": api.port,
    }
    atomic_write(state / PORTS_FILE, json.dumps(ports) + "\n", mode=0o600)
    try:
        stopping.wait()
    finally:
        for site in (api, insights):
            site.stop()
        jenkins.stop()
        moto.stop()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
