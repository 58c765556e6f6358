"""The one place that talks to AWS: a boto3 session from the answers, and plain-English errors.

boto3 is imported on first use, so starting the wizard stays fast. Every AWS failure becomes an
:class:`AwsError`: one sentence saying what went wrong and ``fix`` saying what to do — never a
botocore traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import WizardError

CONNECT_TIMEOUT = 10  # seconds
READ_TIMEOUT = 30

EXPIRED = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)
DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Forbidden",
        "403",
        "AllAccessDisabled",
    }
)
BAD_REGION = frozenset(
    {"InvalidRegion", "AuthorizationHeaderMalformed", "IllegalLocationConstraint"}
)


class AwsError(WizardError):
    """An AWS call that failed: ``message`` is one sentence, ``fix`` the next thing to do."""

    def __init__(self, message: str, fix: str, code: str | None = None):
        super().__init__(message, fix)
        self.code = code


@dataclass(frozen=True)
class Target:
    """Where AWS calls go: a named profile, a region, and optionally a local endpoint."""

    profile: str | None
    region: str
    endpoint_url: str | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Target:
        return cls(values.get("aws.profile"), values["aws.region"], values.get("aws.endpoint_url"))

    @property
    def label(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"AWS profile {self.profile!r} in {self.region}{where}"


@dataclass
class Aws:
    """A boto3 session for one :class:`Target`; clients are created once and shared by threads.

    (boto3 sessions are not thread-safe, their clients are: creation happens under a lock.
    One session for all clients: botocore then parses each service model once.)
    """

    target: Target
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _session: Any = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._make_client(service)
            return self._clients[service]

    def _make_client(self, service: str) -> Any:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        try:
            if self._session is None:
                self._session = boto3.Session(
                    profile_name=self.target.profile,
                    region_name=self.target.region,
                    botocore_session=_botocore_session(),
                )
                _dedupe_search_paths()
            # Credentials are read afresh for each session; a client made earlier in the
            # process for the same ones is used again (clients are thread-safe, and building
            # one costs tens of milliseconds of CPU).
            slot, found = (service, self.target), _credentials_digest(self._session)
            with _models_lock:
                made = _made_clients.get(slot)
            if made is not None and made[0] == found:
                return made[1]
            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"max_attempts": 2, "mode": "standard"},
            )
            client = self._session.client(
                service, endpoint_url=self.target.endpoint_url, config=config
            )
            with _models_lock:
                _made_clients[slot] = (found, client)
            return client
        except Exception as exc:
            raise explain(exc, f"{service} (connecting)", self.target) from None

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """``client.operation(**kwargs)``; failures raise :class:`AwsError`."""
        client = self.client(service)
        try:
            result: dict[str, Any] = getattr(client, operation)(**kwargs)
        except Exception as exc:
            raise explain(exc, action_name(service, operation), self.target) from None
        return result

    def pages(self, service: str, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every page of a paginated call; failures raise :class:`AwsError`."""
        client = self.client(service)
        try:
            yield from client.get_paginator(operation).paginate(**kwargs)
        except Exception as exc:
            raise explain(exc, action_name(service, operation), self.target) from None


# botocore's loader of service models, shared by every session of the process: parsing the EC2
# model alone takes 0.2-0.5 s, and each run of the checks (a re-run, a recheck) opens a new
# session. Credentials are still read afresh by each session.
_models: Any = None
_models_lock = threading.Lock()


# botocore's built-in event handlers, registered once: registering them checks each handler's
# signature (~15 ms of CPU per session); a new session starts from a copy of them.
_builtin_hooks: Any = None


def _botocore_session() -> Any:
    """A new botocore session whose service models come from the process's shared loader."""
    import copy

    from botocore.hooks import HierarchicalEmitter  # type: ignore[import-untyped]
    from botocore.session import Session  # type: ignore[import-untyped]

    global _models, _builtin_hooks
    with _models_lock:
        if _builtin_hooks is None:
            _builtin_hooks = HierarchicalEmitter()
            Session(event_hooks=_builtin_hooks)  # registers the built-in handlers into it
        hooks = copy.copy(_builtin_hooks)
        hooks._lookup_cache = {}  # the copy would share the original's cache of lookups
        core = Session(event_hooks=hooks, include_builtin_handlers=False)
        if _models is None:
            _models = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _models)
        return core


# The last client made for each service and target, with a digest of its credentials.
_made_clients: dict[tuple[str, Target], tuple[str | None, Any]] = {}


def _credentials_digest(session: Any) -> str | None:
    """A digest of the credentials ``session`` resolves (None: it finds none)."""
    import hashlib

    found = session.get_credentials()
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    parts = (frozen.access_key or "", frozen.secret_key or "", frozen.token or "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _dedupe_search_paths() -> None:
    # boto3 appends its data directory to the loader's search path for each new session.
    with _models_lock:
        paths = _models.search_paths
        paths[:] = list(dict.fromkeys(paths))


def action_name(service: str, operation: str) -> str:
    """The IAM action of a boto3 operation, as policies name it: ``iam:ListAttachedUserPolicies``."""
    prefix = {"sts": "sts", "iam": "iam", "s3": "s3", "ec2": "ec2", "route53": "route53"}.get(
        service, service
    )
    words = "".join(part.capitalize() for part in operation.split("_"))
    if service == "s3" and words == "ListObjectsV2":
        words = "ListBucket"
    return f"{prefix}:{words}"


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def explain(exc: BaseException, action: str, target: Target) -> AwsError:
    """One sentence plus the fix for a boto3/botocore failure of ``action``."""
    from botocore import exceptions as bx  # type: ignore[import-untyped]

    profile = target.profile or "default"
    login = f"aws sso login --profile {profile}"
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError(
            f"the AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials",
            f"create it (aws configure --profile {profile}) or correct aws.profile",
            "ProfileNotFound",
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsError(
            f"the AWS profile {profile!r} has no usable credentials",
            f"add an access key (aws configure --profile {profile}) or log in ({login})",
            "NoCredentials",
        )
    if isinstance(exc, bx.SSOError | bx.TokenRetrievalError | bx.UnauthorizedSSOTokenError):
        return AwsError(
            f"the AWS SSO login of profile {profile!r} has expired",
            f"log in again: {login}",
            "ExpiredToken",
        )
    if isinstance(exc, bx.NoRegionError):
        return AwsError(
            "no AWS region is set", "set aws.region (for example us-east-1)", "NoRegion"
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        if target.endpoint_url:
            return AwsError(
                f"cannot reach the AWS endpoint {target.endpoint_url} ({action})",
                "start the local AWS endpoint or correct aws.endpoint_url (empty for real AWS)",
                "EndpointUnreachable",
            )
        return AwsError(
            f"cannot reach AWS in region {target.region!r} ({action})",
            "check that aws.region is a real region name (e.g. us-east-1) and that this machine "
            "can reach the internet",
            "EndpointUnreachable",
        )
    code = error_code(exc)
    if code is not None:
        detail = str(getattr(exc, "response", {}).get("Error", {}).get("Message") or code)
        if code in EXPIRED:
            return AwsError(
                f"the AWS credentials of profile {profile!r} have expired",
                f"refresh them ({login}, or new temporary keys in ~/.aws/credentials)",
                code,
            )
        if code in BAD_CREDENTIALS:
            return AwsError(
                f"AWS does not accept the credentials of profile {profile!r} ({code})",
                "check the access key id and secret in ~/.aws/credentials (or log in again)",
                code,
            )
        if code in DENIED:
            return AwsError(
                f"access denied on {action} for profile {profile!r}",
                f"give the caller {action} (AdministratorAccess covers it), or use a profile "
                "that has it",
                code,
            )
        if code in BAD_REGION:
            return AwsError(
                f"AWS rejects region {target.region!r} for {action} ({detail})",
                "check aws.region: one real region name such as us-east-1",
                code,
            )
        return AwsError(f"AWS refused {action}: {detail} ({code})", "see the AWS message", code)
    if isinstance(exc, bx.ParamValidationError):
        return AwsError(
            f"invalid parameters for {action}: {exc}", "check the answers it was built from"
        )
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(f"the AWS call {action} failed: {exc}", "check the AWS settings")
    return AwsError(
        f"the AWS call {action} failed ({type(exc).__name__}: {exc})", "check the AWS settings"
    )
