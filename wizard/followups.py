"""The runbook's manual follow-ups after the playbooks, done by the wizard.

- ``jenkins_env``, ``emr-vars.yml`` and ``analytics-override.cfg`` installed in Jenkins' home on
  each analytics host (an ansible run of the wizard's own playbook, ``assets/playbooks``, made
  the same way as the others: host keys checked, detached, events on disk);
- ``edxapp_creds`` and ``edxanalytics_creds`` uploaded to the pipeline bucket, server-side
  encrypted (an object already there with the same content and encryption is left alone);
- the EMR bucket checked for the files the pipeline's clusters fetch at start-up: a missing
  one is a warning with the command that puts it there, not a failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import assets
from .aws import Aws, AwsError

JENKINS_FILES = ("jenkins_env", "emr-vars.yml", "analytics-override.cfg")
CREDS = ("edxapp_creds", "edxanalytics_creds")
TASKS_DIR = "analytics-tasks"
PLAYBOOK = ("playbooks", "jenkins-files.yml")
SSE = "AES256"


def playbook_path() -> Path:
    """The wizard's own playbook that installs the Jenkins files."""
    return assets.path(*PLAYBOOK)


# --- vars files ansible reads literally ------------------------------------------------------


def _unsafe(value: Any) -> str:
    """``value`` as YAML ansible never templates: strings tagged ``!unsafe``, the rest as JSON."""
    if isinstance(value, str):
        return "!unsafe " + json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}: {_unsafe(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_unsafe(v) for v in value) + "]"
    return json.dumps(value)


def literal_vars(data: Mapping[str, Any]) -> str:
    """A vars file (``-e @file``) whose strings reach the playbook exactly as given."""
    lines = ["# Written by analytics-wizard for one playbook run."]
    lines += [f"{json.dumps(str(key))}: {_unsafe(value)}" for key, value in data.items()]
    return "\n".join(lines) + "\n"


def jenkins_files_vars(
    tasks_dir: Path, jenkins_home: str, jenkins_user: str, ssh_user: str
) -> dict[str, Any]:
    """What the Jenkins-files playbook needs: each file's source and destination, the owner, and
    whether to become root for it (only when ansible does not log in as that owner)."""
    home = jenkins_home.rstrip("/") or "/"
    return {
        "analytics_wizard_jenkins_files": [
            {"src": str(tasks_dir / name), "dest": f"{home}/{name}"} for name in JENKINS_FILES
        ],
        "analytics_wizard_jenkins_user": jenkins_user,
        "analytics_wizard_become": jenkins_user != ssh_user,
    }


# --- the creds in the pipeline bucket --------------------------------------------------------


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _head(aws: Aws, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return aws.call("s3", "head_object", Bucket=bucket, Key=key)
    except AwsError as exc:
        if exc.code in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def upload_creds(aws: Aws, bucket: str, tasks_dir: Path) -> list[str]:
    """Put the creds files into ``bucket``, SSE-S3 encrypted; one line per file."""
    done = []
    for name in CREDS:
        path = tasks_dir / name
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise AwsError(
                f"{TASKS_DIR}/{name} is missing from the secure repo, so it cannot be uploaded",
                "run the files step first",
            ) from None
        head = _head(aws, bucket, name)
        same = (
            head is not None
            and head.get("ServerSideEncryption") == SSE
            and str(head.get("ETag", "")).strip('"') == _md5(body)
        )
        if same:
            done.append(f"s3://{bucket}/{name} already holds {name} (encrypted)")
            continue
        aws.call("s3", "put_object", Bucket=bucket, Key=name, Body=body, ServerSideEncryption=SSE)
        done.append(f"uploaded {name} to s3://{bucket}/{name} (server-side encrypted)")
    return done


# --- the EMR bucket --------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeFile:
    """A file the pipeline's EMR clusters fetch from the EMR bucket."""

    what: str
    matches: Callable[[str], bool]
    example: str  # the object key the fix names


EMR_RUNTIME_FILES: tuple[RuntimeFile, ...] = (
    RuntimeFile(
        "the MySQL connector tarball (install-sqoop unpacks it)",
        lambda key: key.startswith("mysql-connector-java") and key.endswith(".tar.gz"),
        "mysql-connector-java-5.1.29.tar.gz",
    ),
    RuntimeFile(
        "edx-analytics-hadoop-util.jar (the pipeline's manifest lib_jar)",
        lambda key: key == "edx-analytics-hadoop-util.jar",
        "edx-analytics-hadoop-util.jar",
    ),
    RuntimeFile(
        "install-sqoop (the EMR step that installs Sqoop)",
        lambda key: key == "install-sqoop",
        "install-sqoop",
    ),
)


def missing_emr_files(aws: Aws, bucket: str) -> list[str]:
    """A warning (with its fix) for each runtime file ``bucket`` lacks at its top level."""
    keys: list[str] = []
    try:
        for page in aws.pages("s3", "list_objects_v2", Bucket=bucket, Delimiter="/"):
            keys += [str(item["Key"]) for item in page.get("Contents", [])]
    except AwsError as exc:
        if exc.code in ("404", "NoSuchBucket"):
            return [
                f"the EMR bucket {bucket} does not exist; the pipeline's clusters fetch their "
                "runtime files from it (run the terraform step, which creates it)"
            ]
        raise
    return [
        f"s3://{bucket}/ lacks {need.what}: upload it (aws s3 cp {need.example} "
        f"s3://{bucket}/{need.example}) before the first pipeline job runs"
        for need in EMR_RUNTIME_FILES
        if not any(need.matches(key) for key in keys)
    ]


def file_digests(
    tasks_dir: Path, names: Sequence[str], digest: Callable[[bytes], str]
) -> dict[str, str]:
    """``{"analytics-tasks/<name>": digest}`` of the secure repo's files (missing: no entry)."""
    found = {}
    for name in names:
        try:
            found[f"{TASKS_DIR}/{name}"] = digest((tasks_dir / name).read_bytes())
        except FileNotFoundError:
            continue
    return found
