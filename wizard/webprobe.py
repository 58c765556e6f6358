"""Plain HTTP probes with urllib: one request, a timeout, no redirect followed.

The wizard asks its own services (Jenkins, Insights, the Analytics API) whether they answer and
what they answer with; a redirect is part of that answer, so it is reported, never followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HTTP_TIMEOUT = 10  # seconds
MAX_BODY = 64 * 1024  # the probes read a status page, never more


@dataclass(frozen=True)
class Answer:
    """What a URL answered: status, headers (lower-case names) and the start of the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def fetch(
    url: str,
    *,
    host: str | None = None,
    timeout: float = HTTP_TIMEOUT,
    proxies: bool = False,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """``GET url`` (or ``method``) once; raises OSError when nothing answers (refused, timeout,
    TLS, DNS).

    ``host`` overrides the Host header (to ask for one nginx site). Proxies from the environment
    are used only with ``proxies`` (public URLs); the tunnel's end and private addresses never
    go through one.
    """
    # http.client, ssl and email load here, when a probe runs, not when the wizard starts.
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # a redirect is an answer of its own: reported, not followed

    handlers: list[Any] = [NoRedirect()]
    if not proxies:
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    sent = {**(headers or {}), **({"Host": host} if host else {})}
    request = urllib.request.Request(url, headers=sent, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, _names(response.headers), response.read(MAX_BODY))
    except urllib.error.HTTPError as exc:  # 3xx, 4xx, 5xx are answers too
        try:
            body = exc.read(MAX_BODY)
        except OSError:
            body = b""
        return Answer(exc.code, _names(exc.headers), body)
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None


def _names(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (headers or {}).items()}


def http_head(url: str, host: str | None = None, timeout: float = HTTP_TIMEOUT) -> dict[str, str]:
    """The headers of ``GET url`` (lower-case names) and its status under ``:status``."""
    answer = fetch(url, host=host, timeout=timeout)
    return {**answer.headers, ":status": str(answer.status)}


def reason(exc: BaseException) -> str:
    """An OSError as a few words: "connection refused", "timed out", "certificate verify failed"."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    verify = getattr(exc, "verify_message", None)
    if verify:
        return f"TLS certificate problem: {verify}"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror).lower()
    return str(exc) or type(exc).__name__
