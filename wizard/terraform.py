"""The one place that runs terraform: init, plan, the plan's summary, apply, outputs, recovery.

Every command runs with ``-input=false`` (no prompt can hang), ``CHECKPOINT_DISABLE=1`` and
``TF_IN_AUTOMATION=1`` under umask 077 (the state and plan files hold the RDS password); no secret
is ever on a command line (the password reaches terraform through ``terraform.tfvars.json``).
Errors come from terraform's JSON diagnostics as a summary and its detail. A cancel sends SIGINT,
which lets terraform stop gracefully and release its state lock, then waits.

Commands that change AWS and the state (apply, the refresh of a recovery) run detached
(:mod:`wizard.detached`): terraform's ``-json`` stream goes to a file the wizard follows, so a
killed wizard or a dropped SSH connection never kills terraform halfway through an apply. A
restarted wizard follows the same run again (:meth:`Terraform.follow`) or reads the result of
one that ended meanwhile (:meth:`Terraform.result`); one that was killed itself is reported by
:func:`interrupted` and repaired by :meth:`Terraform.recover`, and :func:`untracked` names what
AWS holds that the state does not.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import detached, priority
from .errors import Cancelled, WizardError
from .fsutil import PRIVATE_DIR_MODE, PRIVATE_UMASK, SECRET_FILE_MODE, atomic_write

if TYPE_CHECKING:
    from .aws import Aws

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
STATE_FILE = "terraform.tfstate"
ERRORED_STATE = "errored.tfstate"  # what terraform writes when it cannot save its state
# Every file that holds a state (and with it the RDS root password): always 0600.
STATE_FILES = (STATE_FILE, f"{STATE_FILE}.backup", ERRORED_STATE)
UMASK = PRIVATE_UMASK  # files terraform creates while it runs (state, plan) are private from birth
APPLY_RUN = "terraform"  # the step name of detached applies (detached.find(runs_dir, APPLY_RUN))
REFRESH_RUN = "terraform-refresh"

Progress = Callable[[str], None]


class TerraformError(WizardError):
    """terraform failed; the message is its diagnostics' summaries and details."""


class TerraformMissing(WizardError):
    """No terraform binary on PATH."""


class TerraformCancelled(Cancelled):
    """The operator cancelled a running terraform."""


class TerraformInterrupted(TerraformError):
    """terraform was killed during an apply: the state may lack what it had created."""


def secure_state_files(workdir: Path) -> None:
    """Make every state file and backup in ``workdir`` 0600 (they hold the RDS password)."""
    # Beyond STATE_FILES: the timestamped backups some state commands leave (files only:
    # terraform.tfstate.d/ is the workspaces' directory).
    for path in workdir.glob("*.tfstate*"):
        try:
            if path.is_file() and not path.is_symlink():
                os.chmod(path, SECRET_FILE_MODE)
        except FileNotFoundError:
            pass


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


# Actions of terraform's JSON stream (planned_change, hooks) in the summary's words.
_STREAM_ACTIONS = {
    "create": "create",
    "update": "update",
    "delete": "destroy",
    "replace": "replace",
    "read": "read",
    "noop": "no-op",
}


def summary_from_stream(messages: Iterable[Mapping[str, Any]]) -> PlanSummary:
    """The summary of a plan from its ``-json`` stream (no plan file needed)."""
    summary = PlanSummary()
    for message in messages:
        if message.get("type") == "planned_change":
            change = message.get("change") or {}
            address = str((change.get("resource") or {}).get("addr", "?"))
            action = _STREAM_ACTIONS.get(str(change.get("action")), "no-op")
            summary.resources.append(ResourceChange(address, action))
        elif message.get("type") == "outputs":
            for name, doc in (message.get("outputs") or {}).items():
                if isinstance(doc, Mapping) and doc.get("action") not in (None, "noop"):
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


# --- live progress of an apply ---------------------------------------------------------------

# Resources that take minutes, so a long "still creating" is expected, not a hang.
SLOW_RESOURCES = {
    "aws_db_instance": "RDS usually takes 5-15 minutes",
    "aws_opensearch_domain": "Elasticsearch usually takes 10-20 minutes",
    "aws_elasticsearch_domain": "Elasticsearch usually takes 10-20 minutes",
}
_WORK = ("create", "update", "delete", "replace")


def _timestamp(message: Mapping[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(message["@timestamp"])).timestamp()
    except (KeyError, ValueError):
        return None


def duration(seconds: float) -> str:
    """``42s``, ``3m 05s``: how long, at a glance."""
    whole = int(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


@dataclass
class InFlight:
    """A resource terraform is working on."""

    address: str
    resource_type: str
    action: str  # create | update | delete | ...
    started: float | None  # when terraform started it (epoch seconds, from the stream)
    elapsed: float = 0.0  # terraform's own last report

    def seconds(self, now: float | None = None) -> float:
        if now is None or self.started is None:
            return self.elapsed
        return max(self.elapsed, now - self.started)

    @property
    def note(self) -> str:
        return SLOW_RESOURCES.get(self.resource_type, "")

    def line(self, now: float | None = None) -> str:
        verb = {"create": "creating", "update": "updating", "delete": "destroying"}.get(
            self.action, self.action
        )
        text = f"{self.address}: {verb}, {duration(self.seconds(now))}"
        return f"{text} ({self.note})" if self.note else text


@dataclass
class ApplyProgress:
    """What a running apply has done, fed with terraform's ``-json`` messages (plain data).

    ``total`` is the number of resources the plan changes (its ``planned_change`` messages,
    or ``expected`` when the caller knows it from the plan's summary)."""

    expected: int = 0
    planned: dict[str, str] = field(default_factory=dict)  # address -> action
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_flight: dict[str, InFlight] = field(default_factory=dict)
    current: str = ""
    errors: list[str] = field(default_factory=list)
    summary: str = ""  # terraform's last line ("Apply complete! Resources: ...")
    finished: bool = False

    def feed_line(self, line: str) -> dict[str, Any] | None:
        """Take one line of the stream; returns it parsed (None if it is not a JSON message)."""
        if not line.startswith("{"):
            return None
        try:
            message = json.loads(line)
        except ValueError:
            return None
        if not isinstance(message, dict):
            return None
        self.feed(message)
        return message

    def feed(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "planned_change":
            change = message.get("change") or {}
            action = str(change.get("action"))
            if action in _WORK:
                self.planned[str((change.get("resource") or {}).get("addr"))] = action
            return
        if kind == "diagnostic":
            self.errors += diagnostics([message])
        elif kind == "change_summary":
            if (message.get("changes") or {}).get("operation") == "apply":
                self.summary = str(message.get("@message", ""))
                self.finished = True
        elif kind in ("apply_start", "apply_progress", "apply_complete", "apply_errored"):
            self._hook(str(kind), message)
        else:
            return
        shown = str(message.get("@message", "")).strip()
        if shown:
            self.current = shown

    def _hook(self, kind: str, message: Mapping[str, Any]) -> None:
        hook = message.get("hook") or {}
        action = str(hook.get("action", ""))
        if action == "read":  # data sources: not part of the plan's count
            return
        resource = hook.get("resource") or {}
        address = str(resource.get("addr", "?"))
        elapsed = float(hook.get("elapsed_seconds") or 0)
        if kind == "apply_start":
            if address in self.done:  # a replacement: destroyed, now created
                self.done.remove(address)
            self.in_flight[address] = InFlight(
                address, str(resource.get("resource_type", "")), action, _timestamp(message)
            )
        elif kind == "apply_progress":
            if address in self.in_flight:
                self.in_flight[address].elapsed = elapsed
        elif kind == "apply_complete":
            self.in_flight.pop(address, None)
            if address not in self.done:
                self.done.append(address)
        else:
            self.in_flight.pop(address, None)
            if address not in self.failed:
                self.failed.append(address)

    @property
    def total(self) -> int:
        seen = len(self.done) + len(self.failed) + len(self.in_flight)
        return max(len(self.planned), self.expected, seen)

    @property
    def fraction(self) -> float:
        """Done of the total, 0.0-1.0 (1.0 for a plan with nothing to do)."""
        return len(self.done) / self.total if self.total else 1.0

    def headline(self) -> str:
        text = f"{len(self.done)} of {self.total} resources done"
        if self.failed:
            text += f", {len(self.failed)} failed"
        if self.in_flight:
            text += f", {len(self.in_flight)} in progress"
        return text

    def in_flight_lines(self, now: float | None = None) -> list[str]:
        """One line per resource in progress, the longest-running first."""
        ordered = sorted(self.in_flight.values(), key=lambda r: -r.seconds(now))
        return [resource.line(now) for resource in ordered]


@dataclass
class ApplyResult:
    """A detached apply (or refresh) that ended with exit status 0."""

    run: detached.Run
    progress: ApplyProgress
    messages: list[dict[str, Any]]


# --- running --------------------------------------------------------------------------------


@dataclass
class Terraform:
    """terraform in one working directory.

    Cancel with ``cancelled`` (a callable polled while terraform runs) or the older ``cancel``
    event: terraform gets SIGINT, finishes what is in flight, releases its lock; then we wait.
    Detached runs go to ``runs_dir`` (default: ``.wizard/runs`` of the secure repo when the
    working directory is its ``terraform/``)."""

    workdir: Path
    cancelled: Callable[[], bool] = field(default=lambda: False)
    log: Progress = field(default=lambda line: None)
    env: dict[str, str] = field(default_factory=dict)
    runs_dir: Path | None = None

    @property
    def runs(self) -> Path:
        """Where this working directory's detached runs live."""
        if self.runs_dir is not None:
            return self.runs_dir
        state_dir = self.workdir.parent / ".wizard"
        if state_dir.is_dir():
            return state_dir / "runs"
        return self.workdir / ".terraform" / "wizard-runs"

    def run(
        self,
        args: Sequence[str],
        *,
        json_stream: bool = False,
        progress: Progress | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> tuple[int, list[dict[str, Any]], list[str]]:
        """Run ``terraform ARGS`` attached; return (exit code, JSON messages, other lines)."""
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
        priority.lower_group(process.pid)  # its own session: the group is terraform's
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
        model: ApplyProgress | None = None,
    ) -> None:
        if json_stream and line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                messages.append(message)
                if model is not None:
                    model.feed(message)
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
                raise self._cancelled_error(command, killed=True) from None
        raise self._cancelled_error(command, killed=False)

    def _cancelled_error(self, command: str, *, killed: bool) -> TerraformCancelled:
        if killed:
            return TerraformCancelled(
                f"terraform {command} was cancelled and did not stop within "
                f"{GRACE_SECONDS:.0f}s, so it was killed: the state may still be locked "
                f"({self.workdir / LOCK_FILE}); when the next run says so, run "
                "'terraform force-unlock <id>' in terraform/"
            )
        locked = (self.workdir / LOCK_FILE).exists()
        return TerraformCancelled(
            f"terraform {command} was cancelled; it stopped cleanly"
            + (
                f", but the state is still locked ({LOCK_FILE}); run 'terraform force-unlock "
                "<id>' in terraform/ before the next run"
                if locked
                else " and released its state lock. Resources it had already changed are "
                "recorded in the state; run the step again to finish"
            )
        )

    # --- detached runs ----------------------------------------------------------------------

    def start_detached(self, step: str, args: Sequence[str]) -> detached.Run:
        """Start ``terraform ARGS`` detached (it outlives the wizard); do not wait."""
        secure_state_files(self.workdir)
        self.log("$ terraform " + " ".join(args) + " (in the background)")
        return detached.start(
            self.runs,
            step,
            [binary(), *args],
            cwd=self.workdir,
            env=environment(self.env),
            shown="terraform " + " ".join(args),
            umask=UMASK,
        )

    def latest_apply(self) -> detached.Run | None:
        """The newest detached apply of this working directory, in whatever state."""
        return detached.find(self.runs, APPLY_RUN)

    def start_apply(self, planfile: Path) -> detached.Run:
        """Start applying the saved plan, detached; follow it with :meth:`follow`."""
        return self.start_detached(
            APPLY_RUN, ["apply", "-input=false", "-no-color", "-json", str(planfile)]
        )

    def follow(
        self,
        run: detached.Run,
        progress: Progress | None = None,
        *,
        model: ApplyProgress | None = None,
        detach: Callable[[], bool] = lambda: False,
    ) -> ApplyResult | None:
        """Replay a detached terraform run from its start and follow it to its end.

        ``progress`` gets each message's line, ``model`` each message. Returns the result once
        terraform exited 0; None when ``detach()`` turned true (the run goes on, follow it
        again later). A cancel (``cancelled``/``cancel``) stops terraform: SIGINT, wait, then
        :class:`TerraformCancelled`. Raises :class:`TerraformError` with terraform's
        diagnostics on a failure, :class:`TerraformInterrupted` if terraform was killed."""
        model = model if model is not None else ApplyProgress()
        messages: list[dict[str, Any]] = []
        text: list[str] = []
        command = run.shown.split(" ")[1] if run.shown.startswith("terraform ") else "apply"

        def take(line: str) -> None:
            self._take(line + "\n", True, messages, text, progress, model)

        try:
            code = run.follow(take, cancelled=lambda: self.cancelled() or detach())
        except detached.RunInterrupted:
            secure_state_files(self.workdir)
            raise self._interrupted_error(run) from None
        except KeyboardInterrupt:
            self._stop_run(run, command)
            raise
        if code is None:
            if self.cancelled():
                self._stop_run(run, command)
            return None
        secure_state_files(self.workdir)
        for line in run.error_lines():
            self.log(line)
        if code < 0:
            raise self._interrupted_error(run)
        if code != 0:
            raise _error(command, messages, [*text, *run.error_lines()])
        return ApplyResult(run, model, messages)

    def result(self, run: detached.Run, model: ApplyProgress | None = None) -> ApplyResult:
        """The result of a detached run that has ended (raises as :meth:`follow` does)."""
        if run.state == detached.RUNNING:
            raise TerraformError(
                f"terraform is still running ({run.shown}, run {run.id}); follow it instead"
            )
        found = self.follow(run, model=model)
        assert found is not None  # an ended run cannot be detached from
        return found

    def _stop_run(self, run: detached.Run, command: str) -> None:
        """SIGINT to the run, up to GRACE_SECONDS to end, then SIGKILL; always raises."""
        code = run.stop(GRACE_SECONDS)
        secure_state_files(self.workdir)
        if code is not None and code < 0:
            raise TerraformCancelled(
                f"terraform {command} was cancelled and did not stop within "
                f"{GRACE_SECONDS:.0f}s, so it was killed: the state may lack what it was "
                "creating. Run the step again: the wizard refreshes the state and lists what "
                "exists in AWS but not in the state"
            )
        raise self._cancelled_error(command, killed=False)

    def _interrupted_error(self, run: detached.Run) -> TerraformInterrupted:
        why = interrupted(self.workdir, run) or "terraform was killed"
        return TerraformInterrupted(
            f"terraform apply was interrupted: {why}. Run the step again: the wizard pushes "
            "back a state terraform could not save, refreshes the state from AWS and lists "
            "what exists in AWS but not in the state before anything new is planned"
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

    def apply(
        self,
        planfile: Path,
        progress: Progress | None = None,
        *,
        model: ApplyProgress | None = None,
    ) -> ApplyResult:
        """Apply the saved plan detached and follow it to the end (blocking).

        terraform carries on if this wizard dies meanwhile; the run is marked picked up once
        this call has reported its end (result or error) to the caller."""
        run = self.start_apply(planfile)
        try:
            found = self.follow(run, progress, model=model)
        finally:
            if run.state != detached.RUNNING:
                run.pick_up()
        assert found is not None  # nothing detaches a blocking apply
        return found

    def refresh(self, progress: Progress | None = None) -> ApplyResult:
        """``apply -refresh-only``: the state takes what AWS really has (detached, blocking)."""
        run = self.start_detached(
            REFRESH_RUN,
            ["apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color", "-json"],
        )
        try:
            found = self.follow(run, progress)
        finally:
            if run.state != detached.RUNNING:
                run.pick_up()
        assert found is not None
        return found

    def recover(
        self, run: detached.Run | None = None, progress: Progress | None = None
    ) -> list[str]:
        """Repair the state after an interrupted apply; returns what was done, line by line.

        Pushes back an ``errored.tfstate`` terraform left (a 0600 copy stays in the run's
        directory), then refreshes the state from AWS. What AWS holds that the state still
        lacks (terraform was killed before it could record it) is :func:`untracked`'s job."""
        done: list[str] = []
        secure_state_files(self.workdir)
        errored = self.workdir / ERRORED_STATE
        if errored.exists():
            keep = run.directory if run is not None else self._recovery_dir()
            copy = keep / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{ERRORED_STATE}"
            atomic_write(copy, errored.read_text(encoding="utf-8"), mode=SECRET_FILE_MODE)
            try:
                self.run(["state", "push", ERRORED_STATE])
            except TerraformError as exc:
                raise TerraformError(
                    f"terraform left {ERRORED_STATE} (the state it could not save) and pushing it "
                    f"back failed: {exc}. Compare it with {STATE_FILE} in terraform/ and push it "
                    f"by hand (terraform state push {ERRORED_STATE}); a copy is in {copy}"
                ) from None
            errored.unlink()
            done.append(
                f"pushed {ERRORED_STATE} (the state terraform could not save) back into "
                f"{STATE_FILE}; a copy is in {copy}"
            )
        stale_lock = (self.workdir / LOCK_FILE).exists() and not lock_held(self.workdir)
        try:
            result = self.refresh(progress)
        except TerraformError as exc:
            # A state that lacks what its outputs name (terraform was killed before it recorded
            # them) cannot be refreshed on its own; the plan that follows refreshes it anyway.
            done.append(f"the state could not be refreshed on its own ({exc.message})")
        else:
            done.append(f"refreshed the state from AWS ({result.progress.summary or 'done'})")
        if stale_lock and not (self.workdir / LOCK_FILE).exists():
            done.append(f"cleared the state lock the killed terraform left ({LOCK_FILE})")
        if run is not None and run.state != detached.RUNNING:
            run.annotate(recovered_at=datetime.now(UTC).isoformat(timespec="seconds"))
        return done

    def _recovery_dir(self) -> Path:
        directory = self.runs / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-terraform-recovery"
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, PRIVATE_DIR_MODE)
        return directory

    def drift(self, targets: Sequence[str] = ()) -> PlanSummary | None:
        """What AWS no longer matches in the state (None: nothing), from a plan that locks
        nothing and writes no plan file (``-detailed-exitcode``: 2 means changes)."""
        code, messages, _ = self.run(
            [
                "plan",
                "-detailed-exitcode",
                "-lock=false",
                "-input=false",
                "-no-color",
                "-json",
                *(f"-target={target}" for target in targets),
            ],
            json_stream=True,
            ok_codes=(0, 2),
        )
        return summary_from_stream(messages) if code == 2 else None

    def import_resource(self, address: str, ident: str) -> None:
        """``terraform import ADDRESS ID``: the state takes a resource AWS already holds."""
        self.run(["import", "-input=false", "-no-color", address, ident])
        secure_state_files(self.workdir)

    def outputs(self) -> dict[str, Any]:
        _, _, text = self.run(["output", "-json", "-no-color"])
        try:
            raw = json.loads("\n".join(text) or "{}")
        except ValueError:
            raise TerraformError(
                "terraform output -json printed something that is not JSON"
            ) from None
        return read_outputs(raw)


# --- after an interrupted apply -------------------------------------------------------------


def lock_held(workdir: Path) -> bool:
    """A live terraform holds the state's lock (terraform locks the state file with fcntl)."""
    state = workdir / STATE_FILE
    try:
        fd = os.open(state, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def interrupted(workdir: Path, run: detached.Run | None) -> str | None:
    """Why the last apply in ``workdir`` did not end cleanly; None if it did (or still runs).

    The signs: ``run`` ended without an exit status or was killed by a signal; terraform left
    its state lock; terraform left ``errored.tfstate`` (it could not save the state)."""
    if run is not None and run.state == detached.RUNNING:
        return None
    reasons = []
    if run is not None and not run.record.get("recovered_at"):
        code = run.exit_code
        started = str(run.record.get("started_at", ""))[:19].replace("T", " ")
        if code is None:
            reasons.append(
                f"the apply started at {started} UTC ended without an exit status "
                "(terraform was killed)"
            )
        elif code < 0:
            reasons.append(f"the apply started at {started} UTC was killed ({_signal_name(-code)})")
    if (workdir / LOCK_FILE).exists() and not lock_held(workdir):
        reasons.append(f"terraform left its state lock ({LOCK_FILE})")
    if (workdir / ERRORED_STATE).exists():
        reasons.append(f"terraform could not save its state and left {ERRORED_STATE}")
    return "; ".join(reasons) or None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def state_outputs(workdir: Path) -> dict[str, Any]:
    """What ``terraform output -json`` says, read from the state file itself (no terraform
    process: the local probe of ``status`` and the sidebar takes milliseconds)."""
    outputs = read_state(workdir).get("outputs")
    return read_outputs(outputs if isinstance(outputs, Mapping) else {})


def read_state(workdir: Path) -> dict[str, Any]:
    """``terraform.tfstate`` of ``workdir`` as a document ({} when there is none)."""
    try:
        text = (workdir / STATE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}  # terraform killed as it began writing it: as terraform, read it as none
    try:
        doc = json.loads(text)
    except ValueError:
        raise TerraformError(
            f"{workdir / STATE_FILE} is not valid JSON; restore it from "
            f"{STATE_FILE}.backup or from the secure repo's git history"
        ) from None
    return doc if isinstance(doc, dict) else {}


def _address(resource: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    address = f"{resource.get('type')}.{resource.get('name')}"
    if resource.get("module"):
        address = f"{resource['module']}.{address}"
    key = instance.get("index_key")
    if isinstance(key, int):
        address += f"[{key}]"
    elif isinstance(key, str):
        address += f'["{key}"]'
    return address


def tracked(state_doc: Mapping[str, Any], resource_type: str) -> dict[str, str]:
    """The ids of ``resource_type`` the state knows: id -> address."""
    found: dict[str, str] = {}
    for resource in state_doc.get("resources") or []:
        if resource.get("mode") != "managed" or resource.get("type") != resource_type:
            continue
        for instance in resource.get("instances") or []:
            resource_id = (instance.get("attributes") or {}).get("id")
            if resource_id:
                found[str(resource_id)] = _address(resource, instance)
    return found


_LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"]


@dataclass(frozen=True)
class Stray:
    """A resource of this client AWS holds and the state does not (an interrupted apply's)."""

    what: str  # "EC2 instance i-0abc (acme-analytics-1-2, running)"
    remove: str  # the aws command that deletes it
    remove_words: str  # "terminate it"
    address: str  # where `terraform import` puts it ("" when no address of ours is free)
    ident: str  # the id terraform import takes

    @property
    def line(self) -> str:
        """One actionable line: what it is, how to remove it and, if it can be, how to adopt it."""
        line = (
            f"{self.what} exists in AWS but not in the terraform state: {self.remove_words} "
            f"({self.remove})"
        )
        if self.address:
            line += f", or adopt it: in terraform/, terraform import '{self.address}' {self.ident}"
        return line


def untracked(aws: Aws, state_doc: Mapping[str, Any], client: str, environment: str) -> list[str]:
    """What AWS holds for this client that the state does not, one actionable line each."""
    return [found.line for found in strays(aws, state_doc, client, environment)]


def strays(aws: Aws, state_doc: Mapping[str, Any], client: str, environment: str) -> list[Stray]:
    """EC2 instances (not terminated) and S3 buckets named as the configuration names them (or
    carrying the client's tags), whose ids the state lacks."""
    name = f"{client}-{environment}"
    lines: list[Stray] = []

    known = tracked(state_doc, "aws_instance")
    addresses = set(known.values())
    numbered = re.compile(rf"{re.escape(name)}-\d+-(\d+)")
    for page in aws.pages(
        "ec2",
        "describe_instances",
        Filters=[{"Name": "instance-state-name", "Values": _LIVE_INSTANCE_STATES}],
    ):
        for reservation in page.get("Reservations") or []:
            for instance in reservation.get("Instances") or []:
                instance_id = str(instance.get("InstanceId"))
                tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
                label = str(tags.get("Name") or "")
                ours = label.startswith(f"{name}-") or (
                    tags.get("analytics:customer") == client
                    and tags.get("analytics:environment") == environment
                )
                if not ours or instance_id in known:
                    continue
                number = numbered.fullmatch(label)
                address = f"aws_instance.analytics[{int(number.group(1)) - 1}]" if number else ""
                lines.append(
                    Stray(
                        f"EC2 instance {instance_id} ({label or 'no Name tag'}, "
                        f"{(instance.get('State') or {}).get('Name', '?')})",
                        f"aws ec2 terminate-instances --instance-ids {instance_id}",
                        "terminate it",
                        address if address and address not in addresses else "",
                        instance_id,
                    )
                )

    known_buckets = tracked(state_doc, "aws_s3_bucket")
    bucket_addresses = set(known_buckets.values())
    expected = {
        f"{name}-emr": "emr",
        f"{name}-emr-logs": "emr_logs",
        f"{client}-edx{environment}": "pipeline",
        f"{name}-api-reports": "api_reports",
    }
    for bucket in aws.call("s3", "list_buckets").get("Buckets") or []:
        bucket_name = str(bucket.get("Name"))
        if bucket_name in known_buckets:
            continue
        if bucket_name not in expected and not (
            bucket_name.startswith(f"{name}-") and _bucket_is_ours(aws, bucket_name, client)
        ):
            continue
        key = expected.get(bucket_name)
        address = f'aws_s3_bucket.pipeline["{key}"]' if key else ""
        lines.append(
            Stray(
                f"S3 bucket {bucket_name}",
                f"aws s3 rb s3://{bucket_name}",
                "delete it if it holds nothing you need",
                address if address and address not in bucket_addresses else "",
                bucket_name,
            )
        )
    return lines


def _bucket_is_ours(aws: Aws, bucket: str, client: str) -> bool:
    """The bucket carries the client's tags (the provider's default tags)."""
    from .aws import AwsError

    try:
        tagging = aws.call("s3", "get_bucket_tagging", Bucket=bucket)
    except AwsError:
        return False  # no tags (NoSuchTagSet) or not readable: not known to be ours
    tags = {t.get("Key"): t.get("Value") for t in tagging.get("TagSet") or []}
    return tags.get("analytics:customer") == client
