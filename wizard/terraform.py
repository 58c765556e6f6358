"""The one place that runs terraform: init, plan, the plan's summary, apply, outputs.

Every command runs with ``-input=false`` (no prompt can hang), ``CHECKPOINT_DISABLE=1`` and
``TF_IN_AUTOMATION=1``; no secret is ever on a command line (the RDS password reaches terraform
through ``terraform.tfvars.json``). Errors come from terraform's JSON diagnostics as a summary
and its detail. A cancel sends SIGINT, which lets terraform stop gracefully and release its state
lock, then waits.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Cancelled, WizardError
from .fsutil import PRIVATE_UMASK

# Outputs later steps read from the ledger; a configuration without them is refused.
REQUIRED_OUTPUTS: tuple[str, ...] = (
    "rds_host_name",
    "elasticsearch_learners_host",
    "analytics_instance_private_ips",
    "analytics_instance_public_ips",
    "emr_subnet_id",
    "pipeline_bucket",
    "emr_bucket",
    "emr_logs_bucket",
    "api_reports_bucket",
)
CONFIRM_WORD = "destroy"
GRACE_SECONDS = 60.0  # how long a cancelled terraform may take to stop and release its lock
LOCK_FILE = ".terraform.tfstate.lock.info"

Progress = Callable[[str], None]


class TerraformError(WizardError):
    """terraform failed; the message is its diagnostics' summaries and details."""


class TerraformMissing(WizardError):
    """No terraform binary on PATH."""


class TerraformCancelled(Cancelled):
    """The operator cancelled a running terraform."""


def binary() -> str:
    found = shutil.which("terraform")
    if not found:
        raise TerraformMissing(
            "terraform is not installed (or not on PATH); install terraform 1.5 or newer from "
            "https://developer.hashicorp.com/terraform/install and run again"
        )
    return found


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "NO_COLOR": "1",
        }
    )
    # TF_LOG would write provider debug output (request bodies, the password) to our stream.
    env.pop("TF_LOG", None)
    env.update(extra or {})
    return env


# --- the plan's summary ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceChange:
    address: str
    action: str  # create | update | replace | destroy | read | no-op

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "destroy": "-", "read": "<="}.get(
            self.action, " "
        )


@dataclass
class PlanSummary:
    resources: list[ResourceChange] = field(default_factory=list)
    output_changes: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for r in self.resources if r.action == action)

    @property
    def create(self) -> int:
        return self.count("create")

    @property
    def update(self) -> int:
        return self.count("update")

    @property
    def replace(self) -> int:
        return self.count("replace")

    @property
    def destroy(self) -> int:
        return self.count("destroy")

    @property
    def destructive(self) -> list[ResourceChange]:
        """Resources the plan deletes (destroyed, or replaced by new ones)."""
        return [r for r in self.resources if r.action in ("destroy", "replace")]

    @property
    def changes_anything(self) -> bool:
        return bool(self.create or self.update or self.replace or self.destroy)

    def headline(self) -> str:
        if not self.changes_anything:
            return "no changes: the infrastructure matches the configuration"
        return (
            f"{self.create} to create, {self.update} to update, {self.replace} to replace, "
            f"{self.destroy} to destroy"
        )

    def lines(self) -> list[str]:
        return [
            f"{r.symbol} {r.action} {r.address}"
            for r in self.resources
            if r.action not in ("no-op", "read")
        ]


def _action(actions: Sequence[str]) -> str:
    acts = list(actions)
    if acts in (["delete", "create"], ["create", "delete"]):
        return "replace"
    if acts == ["delete"]:
        return "destroy"
    if acts == ["create"]:
        return "create"
    if acts == ["update"]:
        return "update"
    if acts == ["read"]:
        return "read"
    return "no-op"


def summarize(show: Mapping[str, Any]) -> PlanSummary:
    """The summary of ``terraform show -json PLANFILE``'s document."""
    summary = PlanSummary()
    for change in show.get("resource_changes") or []:
        if change.get("mode") == "data":
            continue
        actions = (change.get("change") or {}).get("actions") or ["no-op"]
        summary.resources.append(ResourceChange(str(change.get("address")), _action(actions)))
    for name, change in (show.get("output_changes") or {}).items():
        if _action(change.get("actions") or ["no-op"]) != "no-op":
            summary.output_changes.append(str(name))
    return summary


def confirmed(summary: PlanSummary, answer: str | None) -> bool:
    """Whether ``answer`` confirms the plan's destroys and replaces (``destroy`` or their count)."""
    if not summary.destructive:
        return True
    word = (answer or "").strip().lower()
    return word in (CONFIRM_WORD, str(len(summary.destructive)))


# --- outputs --------------------------------------------------------------------------------


def host_only(value: str) -> str:
    """``host:port`` (an RDS endpoint) as the host alone."""
    host, sep, port = value.rpartition(":")
    return host if sep and port.isdigit() and host else value


def read_outputs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's view of ``terraform output -json``: values only, never sensitive ones.

    Raises TerraformError naming every output later steps need that the configuration lacks.
    """
    values: dict[str, Any] = {}
    for name, doc in raw.items():
        if not isinstance(doc, Mapping) or doc.get("sensitive"):
            continue
        values[str(name)] = doc.get("value")
    if isinstance(values.get("rds_host_name"), str):
        values["rds_host_name"] = host_only(values["rds_host_name"])
    missing = [name for name in REQUIRED_OUTPUTS if values.get(name) in (None, "")]
    if missing:
        raise TerraformError(
            f"terraform's outputs lack {', '.join(missing)}, which later steps need; the "
            "configuration in terraform/ must define them (run the terraform step again to "
            "restore the wizard's configuration)"
        )
    return values


# --- diagnostics ----------------------------------------------------------------------------


def diagnostics(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """One ``summary: detail`` line per error diagnostic of terraform's JSON stream."""
    found = []
    for message in messages:
        diag = message.get("diagnostic") if message.get("type") == "diagnostic" else None
        if not isinstance(diag, Mapping) or diag.get("severity") != "error":
            continue
        line = str(diag.get("summary", "")).strip()
        detail = str(diag.get("detail", "")).strip()
        if detail:
            line += f": {detail}"
        rng = diag.get("range")
        if isinstance(rng, Mapping) and rng.get("filename"):
            line += f" ({rng['filename']}:{(rng.get('start') or {}).get('line', '?')})"
        found.append(" ".join(line.split()))
    return found


def _error(command: str, messages: list[dict[str, Any]], text: list[str]) -> TerraformError:
    found = diagnostics(messages)
    if not found:
        tail = [line for line in text if line.strip()][-12:]
        found = [" ".join(" ".join(tail).split())] if tail else ["(no message)"]
    return TerraformError(f"terraform {command} failed: " + "; ".join(found))


# --- running --------------------------------------------------------------------------------


@dataclass
class Terraform:
    """terraform in one working directory."""

    workdir: Path
    cancelled: Callable[[], bool] = field(default=lambda: False)
    log: Progress = field(default=lambda line: None)
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        args: Sequence[str],
        *,
        json_stream: bool = False,
        progress: Progress | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> tuple[int, list[dict[str, Any]], list[str]]:
        """Run ``terraform ARGS``; return (exit code, JSON messages, other lines)."""
        command = [binary(), *args]
        self.log("$ terraform " + " ".join(args))
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=environment(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own session: a ctrl+c in the terminal reaches the wizard only, which then
            # stops terraform once, gracefully.
            start_new_session=True,
            # The state it writes holds the RDS password: owner-only from the first byte.
            umask=PRIVATE_UMASK,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        errors: list[str] = []  # stderr: warnings (e.g. about the CLI config) and plain errors

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        def pump_errors() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                errors.append(line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        error_reader = threading.Thread(target=pump_errors, daemon=True)
        reader.start()
        error_reader.start()
        messages: list[dict[str, Any]] = []
        text: list[str] = []
        try:
            while True:
                if self.cancelled():
                    self._stop(process, args[0])
                try:
                    line = lines.get(timeout=0.2)
                except queue.Empty:
                    continue
                if line is None:
                    break
                self._take(line, json_stream, messages, text, progress)
        except KeyboardInterrupt:
            self._stop(process, args[0])
            raise
        code = process.wait()
        reader.join(timeout=5)
        error_reader.join(timeout=5)
        for line in errors:
            self.log(line)
        if code not in ok_codes:
            raise _error(args[0], messages, [*text, *errors])
        return code, messages, text

    def _take(
        self,
        line: str,
        json_stream: bool,
        messages: list[dict[str, Any]],
        text: list[str],
        progress: Progress | None,
    ) -> None:
        if json_stream and line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                messages.append(message)
                shown = str(message.get("@message", ""))
                if shown and message.get("type") not in ("version", "log"):
                    self.log(shown)
                    if progress is not None:
                        progress(shown)
                return
        text.append(line.rstrip("\n"))
        if not json_stream:
            self.log(line.rstrip("\n"))

    def _stop(self, process: subprocess.Popen[str], command: str) -> None:
        """SIGINT (terraform finishes the calls in flight and releases its lock), then wait."""
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise TerraformCancelled(
                    f"terraform {command} was cancelled and did not stop within "
                    f"{GRACE_SECONDS:.0f}s, so it was killed: the state may still be locked "
                    f"({self.workdir / LOCK_FILE}); when the next run says so, run "
                    "'terraform force-unlock <id>' in terraform/"
                ) from None
        locked = (self.workdir / LOCK_FILE).exists()
        raise TerraformCancelled(
            f"terraform {command} was cancelled; it stopped cleanly"
            + (
                f", but the state is still locked ({LOCK_FILE}); run 'terraform force-unlock "
                "<id>' in terraform/ before the next run"
                if locked
                else " and released its state lock. Resources it had already changed are "
                "recorded in the state; run the step again to finish"
            )
        )

    # --- the commands -----------------------------------------------------------------------

    def init(self) -> None:
        self.run(["init", "-input=false", "-no-color"])

    def validate(self) -> None:
        self.run(["validate", "-no-color", "-json"], json_stream=False)

    def plan(
        self, out: Path, *, state: Path | None = None, progress: Progress | None = None
    ) -> PlanSummary:
        args = ["plan", "-input=false", "-no-color", "-json", f"-out={out}"]
        if state is not None:
            args.append(f"-state={state}")
        self.run(args, json_stream=True, progress=progress)
        return self.show(out)

    def show(self, planfile: Path) -> PlanSummary:
        _, _, text = self.run(["show", "-json", "-no-color", str(planfile)])
        try:
            doc = json.loads("\n".join(text))
        except ValueError:
            raise TerraformError(
                "terraform show -json printed something that is not JSON; is this terraform "
                "1.5 or newer?"
            ) from None
        return summarize(doc)

    def apply(self, planfile: Path, progress: Progress | None = None) -> None:
        self.run(
            ["apply", "-input=false", "-no-color", "-json", str(planfile)],
            json_stream=True,
            progress=progress,
        )

    def outputs(self) -> dict[str, Any]:
        _, _, text = self.run(["output", "-json", "-no-color"])
        try:
            raw = json.loads("\n".join(text) or "{}")
        except ValueError:
            raise TerraformError(
                "terraform output -json printed something that is not JSON"
            ) from None
        return read_outputs(raw)
