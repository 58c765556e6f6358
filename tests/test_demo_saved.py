"""What a stopped demo keeps: moto's account and the Jenkins stand-in's state, saved and loaded
back (wizard/demo/saved.py), against the module's real moto server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wizard import detached, exit_codes
from wizard.demo import core, saved
from wizard.demo.cloud import Moto
from wizard.demo.command import demo_command
from wizard.demo.jenkins_standin import JenkinsStandin


def test_moto_s_account_comes_back_with_its_ids_objects_and_keys(
    moto: Moto, tmp_path: Path
) -> None:
    moto.reset()
    ec2, s3, kms = moto.client("ec2"), moto.client("s3"), moto.client("kms")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    s3.create_bucket(Bucket="acme-saved")
    s3.put_object(Bucket="acme-saved", Key="logs/one", Body=b"kept across the stop")
    moto.client("iam").create_role(RoleName="acme-analytics", AssumeRolePolicyDocument="{}")
    # an RSA key held as a cryptography object, which pickle alone cannot save
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public = kms.get_public_key(KeyId=key)["PublicKey"]

    assert saved.save_moto(tmp_path) >= 4
    assert (tmp_path / saved.MOTO_FILE).stat().st_mode & 0o777 == 0o600
    moto.reset()
    assert s3.list_buckets()["Buckets"] == []
    saved.restore_moto(tmp_path)

    assert vpc in {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    reservations = ec2.describe_instances()["Reservations"]
    assert [i["InstanceId"] for r in reservations for i in r["Instances"]] == [
        instance["InstanceId"]
    ]
    body = s3.get_object(Bucket="acme-saved", Key="logs/one")["Body"].read()
    assert body == b"kept across the stop"
    assert moto.client("iam").get_role(RoleName="acme-analytics")["Role"]["RoleName"]
    assert kms.get_public_key(KeyId=key)["PublicKey"] == public
    signed = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")[
        "Signature"
    ]
    assert kms.verify(
        KeyId=key,
        Message=b"m",
        Signature=signed,
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["SignatureValid"]
    # the restored account is the live one: it takes new resources and resets as before
    s3.put_object(Bucket="acme-saved", Key="logs/two", Body=b"new")
    assert s3.list_objects_v2(Bucket="acme-saved")["KeyCount"] == 2
    moto.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_a_saved_account_that_cannot_be_read_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(saved.Unreadable, match=saved.MOTO_FILE):
        saved.restore_moto(tmp_path)  # missing
    (tmp_path / saved.MOTO_FILE).write_bytes(b"\x80\x05garbage")
    with pytest.raises(saved.Unreadable, match=saved.MOTO_FILE):
        saved.restore_moto(tmp_path)


def test_the_jenkins_stand_in_keeps_its_jobs_and_settings(tmp_path: Path) -> None:
    jenkins = JenkinsStandin(settings_from_script=True)
    jenkins.add_job("Enrollments", "<project><description>x</description></project>")
    jenkins.executors, jenkins.admin_email = 3, "ops@example.com"
    saved.save_jenkins(tmp_path, jenkins)
    assert (tmp_path / saved.JENKINS_FILE).stat().st_mode & 0o777 == 0o600
    again = JenkinsStandin(settings_from_script=True)
    saved.restore_jenkins(tmp_path, again)
    assert again.jobs == jenkins.jobs
    assert (again.executors, again.admin_email) == (3, "ops@example.com")
    (tmp_path / saved.JENKINS_FILE).write_text('{"jobs": []}')
    with pytest.raises(saved.Unreadable, match=saved.JENKINS_FILE):
        saved.restore_jenkins(tmp_path, JenkinsStandin())
    assert saved.has_saved(tmp_path) is False  # no moto account beside it


def test_the_demo_stops_its_stand_ins_on_quit_but_not_on_a_hang_up_or_for_a_run_left_going(
    tmp_path: Path,
) -> None:
    """demo_command with the wizard replaced by what it returns (the real TUI in tmux is
    tests/test_demo_tmux.py): quit, hang-up, quit leaving a detached run going."""
    directory = tmp_path / "demo-repo"
    outcome: list[int] = []

    def wizard_returning(code: int, leave_run: bool = False) -> Any:
        def open_tui(repo: Path, backends: Any = None) -> int:
            outcome.append(len(core.running(repo)))
            if leave_run:
                runs = repo / ".wizard" / "runs"
                runs.mkdir(parents=True, exist_ok=True)
                left.append(
                    detached.start(
                        runs, "terraform", ["sleep", "60"], cwd=repo, env=os.environ, shown="sleep"
                    )
                )
            return code

        return open_tui

    left: list[detached.Run] = []
    try:
        assert demo_command(directory, open_tui=wizard_returning(exit_codes.OK)) == 0
        assert core.running(directory) == {}  # quit: stopped, and saved for the next start
        assert saved.has_saved(directory / core.STATE)

        demo_command(directory, open_tui=wizard_returning(exit_codes.HUNG_UP))
        kept = core.running(directory)
        assert set(kept) == {"standins", "mariadb", "sshd"}  # resumed, and left running

        demo_command(directory, open_tui=wizard_returning(exit_codes.OK, leave_run=True))
        assert core.running(directory) == kept  # reused; the run left going still needs them
        left[0].stop(grace=5)
        assert demo_command(directory, open_tui=wizard_returning(exit_codes.OK)) == 0
        assert core.running(directory) == {}
        assert outcome == [3, 3, 3, 3]  # the wizard always opened on running stand-ins
    finally:
        for run in left:
            run.stop(grace=5)
        core.stop(directory)
