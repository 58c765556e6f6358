"""The ``terraform`` step: the AWS resources of the analytics stack, from the wizard's own config.

The configuration shipped in ``assets/terraform/`` is copied into ``terraform/`` of the secure
repo, so the operator's repo is self-contained (``terraform plan`` there works by hand too),
beside ``terraform.tfvars.json`` (0600: it holds the RDS root password) and, only when
``aws.endpoint_url`` is set, ``endpoints_override.tf.json`` pointing the provider at that
endpoint. A copied file the operator edited by hand is a conflict, like in the files step.

Planning never touches the secure repo: the proposed files go to a staging directory
(``.wizard/terraform-plan/``, or a temporary one on a dry run) and terraform plans there against
the repo's state. Applying writes the files, then applies the saved plan in ``terraform/``, so
what runs is exactly what was shown. A plan that destroys or replaces anything needs the operator
to type ``destroy`` (or the number of such resources): ``decisions["confirm"]``, or
:func:`confirm` on the plan; headless: ``--confirm-destroy``. ``--force`` is not enough.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import assets, detached
from ..context import QUIET, RunContext
from ..errors import Detached, WizardError
from ..fsutil import (
    SECRET_FILE_MODE,
    FileWrite,
    atomic_write,
    ensure_private_dir,
    file_mode,
    read_if_exists,
    refuse_links,
    write_files,
)
from ..ledger import digest
from ..privacy import refuse_owned_links
from ..terraform import (
    CONFIRM_WORD,
    ApplyProgress,
    PlanSummary,
    Stray,
    Terraform,
    confirmed,
    interrupted,
    read_state,
    secure_state_files,
    state_outputs,
    strays,
)
from .base import KEEP, OVERWRITE, Action, Change, Conflict, Plan, Step, StepError, count

if TYPE_CHECKING:
    from ..engine import Session
    from ..ledger import StepRecord

NAME = "terraform"
DIRECTORY = "terraform"
TFVARS = f"{DIRECTORY}/terraform.tfvars.json"
OVERRIDE = f"{DIRECTORY}/endpoints_override.tf.json"
STATE = "terraform.tfstate"
LOCK_HCL = ".terraform.lock.hcl"
PLANFILE = "analytics.tfplan"
ADOPT = Action("adopt_untracked", "Adopt untracked", "f7")
CONFIRM = "confirm"  # decisions key: the word the operator typed
# Services the configuration calls; with aws.endpoint_url they all go to that endpoint.
ENDPOINT_SERVICES = ("ec2", "iam", "opensearch", "rds", "route53", "s3", "sts")

INPUTS: tuple[str, ...] = (
    "client.name",
    "client.environment",
    "aws.profile",
    "aws.region",
    "aws.endpoint_url",
    "edxapp.tracking_logs_bucket",
    "edxapp.grades_bucket",
    "edxapp.grades_bucket_user_arn",
    "terraform.image_id",
    "terraform.instance_type",
    "terraform.key_pair_name",
    "terraform.number_of_instances",
    "terraform.instance_iteration",
    "terraform.rds_instance_class",
    "terraform.rds_allocated_storage",
    "terraform.rds_root_username",
    "terraform.rds_root_password",
    "terraform.hosted_zone_domain",
    "terraform.director_security_group_id",
    "terraform.create_elasticsearch",
    "terraform.existing_elasticsearch_host",
    "terraform.create_rds",
    "terraform.existing_rds_host",
)

# RDS's own rules for the master user and password (stricter than MySQL's).
_RDS_USER = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
_RDS_PASSWORD = re.compile(r"[\x21-\x7e]{8,41}")


def values(session: Session) -> dict[str, Any]:
    """Every input, resolved and checked against what RDS and the configuration accept."""
    try:
        v = session.resolved.require(INPUTS)
    except ValueError as exc:
        raise StepError(str(exc)) from None
    problems = []
    user = v["terraform.rds_root_username"]
    if not _RDS_USER.fullmatch(user) or user.lower() == "rdsadmin":
        problems.append(
            f"terraform.rds_root_username {user!r}: RDS needs 1-16 letters and digits, starting "
            "with a letter (not rdsadmin)"
        )
    password = v["terraform.rds_root_password"]
    if not _RDS_PASSWORD.fullmatch(password) or any(c in password for c in '/"@'):
        problems.append(
            "terraform.rds_root_password: RDS needs 8-41 printable ASCII characters without "
            '/, ", @ or spaces; leave it empty to have one generated'
        )
    if not v["terraform.create_elasticsearch"] and not v["terraform.existing_elasticsearch_host"]:
        problems.append(
            "terraform.existing_elasticsearch_host is required when "
            "terraform.create_elasticsearch is no: the endpoint of the domain to use"
        )
    if not v["terraform.create_rds"] and not v["terraform.existing_rds_host"]:
        problems.append(
            "terraform.existing_rds_host is required when terraform.create_rds is no: the "
            "MySQL server for the analytics databases"
        )
    if problems:
        raise StepError("; ".join(problems))
    return v


def tfvars(v: Mapping[str, Any]) -> dict[str, Any]:
    """``terraform.tfvars.json``: the answers under the configuration's variable names."""
    return {
        "customer_name": v["client.name"],
        "environment": v["client.environment"],
        "aws_region": v["aws.region"],
        "aws_profile": v["aws.profile"],
        "analytics_image_id": v["terraform.image_id"],
        "analytics_instance_type": v["terraform.instance_type"],
        "analytics_key_pair_name": v["terraform.key_pair_name"],
        "number_of_instances": v["terraform.number_of_instances"],
        "instance_iteration": v["terraform.instance_iteration"],
        "director_security_group_id": v["terraform.director_security_group_id"],
        "hosted_zone_domain": v["terraform.hosted_zone_domain"],
        "rds_instance_class": v["terraform.rds_instance_class"],
        "rds_allocated_storage": v["terraform.rds_allocated_storage"],
        "rds_root_username": v["terraform.rds_root_username"],
        "rds_root_password": v["terraform.rds_root_password"],
        "create_elasticsearch": v["terraform.create_elasticsearch"],
        "existing_elasticsearch_host": v["terraform.existing_elasticsearch_host"] or "",
        "create_rds": v["terraform.create_rds"],
        "existing_rds_host": v["terraform.existing_rds_host"] or "",
        "tracking_logs_bucket": v["edxapp.tracking_logs_bucket"],
        "edxapp_s3_grade_bucket_id": v["edxapp.grades_bucket"],
        "edxapp_s3_grade_user_arn": v["edxapp.grades_bucket_user_arn"],
    }


def endpoints_override(url: str) -> dict[str, Any]:
    """The provider pointed at a local AWS-compatible endpoint (testing, demos)."""
    return {
        "provider": {
            "aws": {
                "endpoints": [{service: url for service in ENDPOINT_SERVICES}],
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "s3_use_path_style": True,
            }
        }
    }


def desired_files(v: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """Every file the step owns in the secure repo: path -> (content, mode)."""
    files: dict[str, tuple[str, int]] = {}
    for source in sorted(assets.path("terraform").glob("*.tf")):
        files[f"{DIRECTORY}/{source.name}"] = (source.read_text(encoding="utf-8"), 0o644)
    files[TFVARS] = (json.dumps(tfvars(v), indent=2) + "\n", SECRET_FILE_MODE)
    if v["aws.endpoint_url"]:
        text = json.dumps(endpoints_override(v["aws.endpoint_url"]), indent=2) + "\n"
        files[OVERRIDE] = (text, 0o644)
    return files


# --- planning -------------------------------------------------------------------------------


@contextmanager
def _staging(session: Session) -> Iterator[Path]:
    """Where terraform plans: kept for apply in a writing session, temporary on a dry run."""
    if session.write:
        stage = ensure_private_dir(session.state_dir / "terraform-plan", session.repo)
        for child in stage.iterdir():
            if child.name != ".terraform":  # keep the installed provider between runs
                real_dir = child.is_dir() and not child.is_symlink()
                shutil.rmtree(child) if real_dir else child.unlink()
        yield stage
    else:
        with tempfile.TemporaryDirectory(prefix="analytics-wizard-terraform-") as tmp:
            yield Path(tmp)


def runner(session: Session, workdir: Path, ctx: RunContext) -> Terraform:
    """terraform in ``workdir``; it stops (gracefully) when the run is cancelled."""
    tf = session.backends.terraform(
        workdir, ctx.cancelled, lambda line: session.log.write(f"{NAME}: {line}")
    )
    tf.runs_dir = session.state_dir / "runs"
    return tf


def _plan_in(
    session: Session, stage: Path, contents: Mapping[str, str], ctx: RunContext
) -> PlanSummary:
    for path, text in contents.items():
        mode = SECRET_FILE_MODE if path == TFVARS else 0o644
        atomic_write(stage / Path(path).name, text, mode=mode)
    pinned = read_if_exists(session.repo / DIRECTORY / LOCK_HCL, session.repo)
    if pinned is not None:  # the provider versions the secure repo already pins
        atomic_write(stage / LOCK_HCL, pinned)
    state = session.repo / DIRECTORY / STATE
    refuse_links(state, session.repo)  # terraform would read (and write) through it
    tf = runner(session, stage, ctx)
    tf.init()
    args_state = state if state.exists() else None
    if not session.write:
        # A dry run reads the state without locking it (nothing is written anywhere).
        out = stage / PLANFILE
        tf.run(
            [
                "plan",
                "-input=false",
                "-no-color",
                "-json",
                "-lock=false",
                f"-out={out}",
                *([f"-state={args_state}"] if args_state else []),
            ],
            json_stream=True,
        )
        return tf.show(out)
    return tf.plan(stage / PLANFILE, state=args_state)


# --- applying and verifying -----------------------------------------------------------------


# --- runs that outlive the wizard -----------------------------------------------------------


def _recorded_run(tf: Terraform, record: StepRecord) -> detached.Run | None:
    wanted = record.outputs.get("run")
    return next((r for r in detached.runs(tf.runs) if r.id == wanted), None)


def _finish(
    session: Session,
    tf: Terraform,
    run: detached.Run,
    ctx: RunContext,
    written: Mapping[str, str],
    expected: int,
) -> dict[str, Any]:
    """Follow ``run`` (replaying it) to its end: terraform's outputs for the ledger.

    Every line goes to the log; the progress model goes out as ``progress`` events (done of
    total, what is in flight and for how long) for a live view."""
    model = ApplyProgress(expected=expected)

    def progress(line: str) -> None:
        ctx.progress(line)
        ctx.event(
            "progress",
            headline=model.headline(),
            fraction=model.fraction,
            lines=model.in_flight_lines(),
        )

    try:
        result = tf.follow(run, progress, model=model, detach=ctx.detached)
    finally:
        secure_state_files(tf.workdir)  # the state holds the RDS password too
    if result is None:
        raise Detached(
            f"terraform apply left running on its own (run {run.id})",
            "open the wizard again (or run) to follow it and record the result",
        )
    outputs = tf.outputs()
    run.pick_up()
    (session.state_dir / "terraform-plan" / PLANFILE).unlink(missing_ok=True)
    ctx.progress(f"{model.summary or 'applied'}; outputs: " + ", ".join(sorted(outputs)))
    return {**outputs, "written": dict(written)}


def _after_last_apply(session: Session, ctx: RunContext) -> list[str]:
    """Before anything new is planned: refuse while an apply runs; after an interrupted one,
    repair the state (a dry run only says so). Returns notes for the plan."""
    directory = session.repo / DIRECTORY
    if not directory.is_dir():
        return []
    tf = runner(session, directory, ctx)
    last = tf.latest_apply()
    if last is not None and last.state == detached.RUNNING:
        raise StepError(
            f"terraform is still applying (run {last.id}, {int(last.elapsed() // 60)} min so "
            "far); nothing new is planned while it runs",
            "wait for it: the wizard follows it when opened, and 'run' waits for it",
        )
    why = interrupted(directory, last)
    if not why:
        return []
    if not session.write:
        return [f"the last apply was interrupted ({why}); a real run repairs the state first"]
    ctx.progress(f"the last apply was interrupted ({why}); repairing the state first")
    return [f"the last apply was interrupted: {why}", *tf.recover(last, ctx.progress)]


def _strays(session: Session, v: Mapping[str, Any]) -> list[Stray]:
    """What AWS holds for this client that the state lacks (an interrupted apply's leftovers)."""
    from ..aws import Target

    aws = session.backends.aws(Target.from_values(v))
    state = read_state(session.repo / DIRECTORY)
    return strays(aws, state, v["client.name"], v["client.environment"])


def adopt(session: Session, ctx: RunContext) -> list[str]:
    """``terraform import`` every stray resource that has an address of ours; what was done,
    and what is left to remove by hand."""
    # Refused while an apply runs; an interrupted one's state is repaired first, or pushing
    # its errored.tfstate back later would drop what is imported now.
    done = _after_last_apply(session, ctx)
    v = values(session)
    found = _strays(session, v)
    if not found:
        return [*done, "AWS holds nothing of this client that terraform's state lacks"]
    directory = session.repo / DIRECTORY
    if not (directory / STATE).exists():
        raise StepError(
            f"there is no terraform state in {DIRECTORY}/ to adopt them into; delete them "
            "(the commands are in the preview) or run the step once"
        )
    tf = runner(session, directory, ctx)
    ctx.progress("terraform init")
    tf.init()
    for stray in found:
        if not stray.address:
            done.append(f"not adopted (no free address of ours): {stray.line}")
            continue
        ctx.progress(f"terraform import {stray.address} {stray.ident}")
        tf.import_resource(stray.address, stray.ident)
        done.append(f"adopted {stray.what} as {stray.address}")
    return done


# --- the step -------------------------------------------------------------------------------

# Outputs worth showing once the stack is applied (the rest is in the ledger).
SHOWN_OUTPUTS = (
    "rds_host_name",
    "elasticsearch_learners_host",
    "analytics_instance_public_ips",
    "insights_host",
)


class TerraformStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Apply"
    preview_label = "Plan"
    cancellable = True
    actions = (ADOPT,)
    choosers: ClassVar[Mapping[str, str]] = {
        "terraform.key_pair_name": "key_pairs",
        "terraform.director_security_group_id": "security_groups",
        "terraform.hosted_zone_domain": "hosted_zones",
        "terraform.image_id": "ubuntu_amis",
        "edxapp.grades_bucket": "buckets",
        "edxapp.tracking_logs_bucket": "buckets",
    }

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """The files to write and terraform's plan of the AWS changes (nothing is changed)."""
        session.ensure_generated(INPUTS)
        v = values(session)
        key = session.answers.internal_secret("ledger_key")
        record = session.ledger.steps.get(NAME)
        written: Mapping[str, str] = (record.outputs.get("written") or {}) if record else {}
        result = Plan(step=NAME, inputs=dict(v), decisions=dict(decisions))
        result.notes += _after_last_apply(session, ctx)

        contents: dict[str, str] = {}
        new_written: dict[str, str] = {}
        for path, (text, mode) in desired_files(v).items():
            target = session.repo / path
            old = read_if_exists(target, session.repo)
            old_mode = file_mode(target) if old is not None else None
            final = text
            hand_edited = old is not None and old != text and digest(key, old) != written.get(path)
            if hand_edited and old is not None:
                decision = OVERWRITE if force else decisions.get(f"{path}:file")
                if decision == KEEP:
                    final = old
                    result.notes.append(f"kept your edited {path}")
                elif decision != OVERWRITE:
                    secret = path == TFVARS
                    result.conflicts.append(
                        Conflict(path, "file", "(edited by hand)", "(the wizard's version)", secret)
                    )
            contents[path] = final
            new_written[path] = digest(key, final)
            result.changes.append(Change(path, old, final, mode, old_mode))
        if not v["aws.endpoint_url"] and (session.repo / OVERRIDE).exists():
            result.notes.append(f"will remove {OVERRIDE} (aws.endpoint_url is no longer set)")

        result.outputs = {"written": new_written}
        if result.conflicts:
            result.notes.append(
                "terraform's plan runs once the hand-edited files are kept or overwritten"
            )
            return result

        with _staging(session) as stage:
            summary = _plan_in(session, stage, contents, ctx)
        found = [stray.line for stray in _strays(session, v)]
        if found:
            result.outputs["untracked"] = found
            result.effects.append(
                f"AWS holds {len(found)} resource(s) of this client the state does not know"
            )
            result.notes += [f"not in terraform's state: {line}" for line in found]
        result.notes.append(f"terraform plan: {summary.headline()}")
        if summary.changes_anything:
            result.effects.append(f"AWS: {summary.headline()}")
        result.notes += summary.lines()
        if summary.output_changes:
            result.notes.append("outputs that change: " + ", ".join(summary.output_changes))
        if summary.destructive and not confirmed(summary, decisions.get(CONFIRM)):
            result.confirm = CONFIRM_WORD
            result.notes.append(
                f"this plan deletes {len(summary.destructive)} resource(s) (destroyed or replaced): "
                f"type {CONFIRM_WORD!r} (or {len(summary.destructive)}) to go on"
            )
        result.outputs["_summary"] = summary
        result.outputs["_planfile"] = str(stage / PLANFILE) if session.write else None
        return result

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Write the files, apply the saved plan in terraform/, and return terraform's outputs."""
        if plan.conflicts:
            raise StepError(
                f"{len(plan.conflicts)} hand-edited file(s) need a decision (keep or overwrite) first"
            )
        if plan.confirm:
            raise StepError(
                f"the plan destroys or replaces resources; nothing was changed. Type {plan.confirm!r} "
                "to confirm (headless: --confirm-destroy)"
            )
        planfile = plan.outputs.get("_planfile")
        if not planfile or not Path(planfile).exists():
            raise StepError("the saved terraform plan is missing; plan the step again")
        directory = ensure_private_dir(session.repo / DIRECTORY, session.repo)
        refuse_owned_links(session.repo)  # terraform follows links: its state, lock, .terraform
        writes = [
            FileWrite(session.repo / c.path, c.new, c.mode, expected_old=c.old)
            for c in plan.changes
        ]
        for written in write_files(writes, session.repo):
            session.log.write(f"{NAME}: wrote {written.relative_to(session.repo)}")
        override = session.repo / OVERRIDE
        if OVERRIDE not in {c.path for c in plan.changes} and override.exists():
            override.unlink()
            session.log.write(f"{NAME}: removed {OVERRIDE}")
        staged_lock = read_if_exists(Path(planfile).parent / LOCK_HCL)
        if staged_lock is not None:
            atomic_write(directory / LOCK_HCL, staged_lock, root=session.repo)
        tf = runner(session, directory, ctx)
        ctx.progress("terraform init")
        tf.init()
        # terraform runs detached, its output to files: it finishes whatever happens to this
        # wizard (killed, the SSH connection dropped), and the ledger says where to find it.
        run = tf.start_apply(Path(planfile))
        session.record_running(plan, {"run": run.id, "written": plan.outputs["written"]})
        summary = plan.outputs.get("_summary")
        expected = len(summary.lines()) if isinstance(summary, PlanSummary) else 0
        return _finish(session, tf, run, ctx, plan.outputs["written"], expected)

    def probe(self, session: Session) -> str | None:
        """None while the state still has the resources and outputs the ledger recorded."""
        directory = session.repo / DIRECTORY
        if not (directory / STATE).exists():
            return f"no terraform state in {DIRECTORY}/ ({STATE} is missing)"
        record = session.ledger.steps.get(NAME)
        recorded = dict(record.outputs) if record else {}
        written = recorded.pop("written", {}) or {}
        key = session.answers.internal_secret("ledger_key")
        for path, expected in written.items():
            text = read_if_exists(session.repo / path, session.repo)
            if text is None:
                return f"missing: {path}"
            if digest(key, text) != expected:
                return f"changed by hand: {path}"
        try:
            current = state_outputs(directory)
        except WizardError as exc:
            return str(exc)
        changed = sorted(
            n for n in set(current) | set(recorded) if current.get(n) != recorded.get(n)
        )
        if changed:
            return "terraform's outputs differ from what the step recorded: " + ", ".join(
                changed[:5]
            )
        return None

    def verify_outside(self, session: Session) -> str | None:
        """Whether AWS still matches the state (a plan that changes nothing)."""
        drift = runner(session, session.repo / DIRECTORY, QUIET).drift()
        if drift is not None:
            listed = ", ".join(line.split(" ", 2)[-1] for line in drift.lines()[:5])
            return f"AWS no longer matches terraform's state: {drift.headline()} ({listed})"
        return None

    def run_state(self, session: Session, record: StepRecord) -> tuple[str, str]:
        """Local only (the run's files): running, ended unrecorded, or interrupted."""
        directory = session.repo / DIRECTORY
        tf = runner(session, directory, QUIET)
        run = _recorded_run(tf, record)
        if run is None:
            return "failed", "the ledger records a terraform apply whose run is gone; plan again"
        if run.state == detached.RUNNING:
            progress = ApplyProgress()
            for line in run.lines():
                progress.feed_line(line)
            minutes = int(run.elapsed() // 60)
            return "running", f"terraform apply, {minutes} min so far: {progress.headline()}"
        why = interrupted(directory, run)
        if why:
            return "failed", f"terraform apply was interrupted: {why}; plan the step again"
        if run.exit_code == 0:
            return (
                "running",
                "terraform apply finished while nobody watched; open the wizard (or run) to "
                "record it",
            )
        return "failed", f"terraform apply failed (exit {run.exit_code}); see the log, plan again"

    def follow(self, session: Session, record: StepRecord, ctx: RunContext) -> dict[str, Any]:
        directory = session.repo / DIRECTORY
        tf = runner(session, directory, ctx)
        run = _recorded_run(tf, record)
        if run is None:
            raise StepError(
                "the terraform apply the ledger records left no run to follow",
                "plan the step again (the wizard checks the state against AWS first)",
            )
        ctx.progress(f"following terraform apply (run {run.id}) from its start")
        return _finish(session, tf, run, ctx, record.outputs.get("written") or {}, 0)

    def run_action(self, name: str, session: Session, decisions: Mapping[str, str]) -> list[str]:
        if name != ADOPT.name:
            return super().run_action(name, session, decisions)
        return adopt(session, QUIET)

    def committed(self, outputs: Mapping[str, Any]) -> list[str]:
        """The state and the provider lock belong in the secure repo's history with the files."""
        return [*(outputs.get("written") or {}), f"{DIRECTORY}/{STATE}", f"{DIRECTORY}/{LOCK_HCL}"]

    def blocking(self, plan: Plan) -> str | None:
        found = plan.outputs.get("untracked") or []
        if not found:
            return None
        return (
            f"AWS holds {len(found)} resource(s) of this client that terraform's state does not "
            "know (an earlier apply was interrupted): " + "; ".join(found) + ". Adopt them first "
            f"({ADOPT.key} {ADOPT.label} in the wizard, run --adopt-untracked headless: terraform "
            "import each one) or delete them, or the next apply creates duplicates"
        )

    def question(self, plan: Plan) -> str:
        summary = plan.outputs.get("_summary")
        files = f" and write {count(len(plan.pending), 'file')}" if plan.pending else ""
        if isinstance(summary, PlanSummary) and summary.changes_anything:
            return (
                f"Create {summary.create}, change {summary.update}, replace {summary.replace}, "
                f"destroy {summary.destroy} AWS resources{files}?"
            )
        if plan.pending:
            return f"AWS already matches. Write {count(len(plan.pending), 'file')}?"
        return "AWS already matches the answers. Record the step as done?"

    def accepts(self, plan: Plan, word: str) -> bool:
        summary = plan.outputs.get("_summary")
        return isinstance(summary, PlanSummary) and confirmed(summary, word)

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        shown = [f"{k} = {outputs[k]}" for k in SHOWN_OUTPUTS if outputs.get(k)]
        return "applied" + ("; " + "; ".join(shown) if shown else "")


STEP = TerraformStep()
