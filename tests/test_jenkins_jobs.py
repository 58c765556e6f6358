"""The analytics Jenkins jobs: jobs.yml from the answers, rendered by jenkins-job-builder,
created and updated through the tunnel with python-jenkins.

Jenkins itself is the stand-in of wizard/demo/jenkins_standin.py (no Jenkins can be installed here); it
answers the REST calls python-jenkins makes, requires the crumb on every POST, and keeps jobs the
way Jenkins does (re-serialised on save).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PLANTED_PASSWORD
from jenkins_standin import JenkinsStandin
from services import SSHD, free_port

from wizard import assets
from wizard import jenkins_jobs as jj
from wizard import jenkins_tunnel as jt

VALUES = jj.JobValues(
    insights_host="insights.example.com",
    cluster_name="Acme Analytics Cluster",
    jenkins_home="/home/jenkins",
    notify_email="ops@example.com",
    ssh_credential_id="ssh-access-key",
)
RUNBOOK_SCHEDULES = {
    "Enrollments": "H 0 * * *",
    "Enrollments by country": "H 5 * * *",
    "Engagement": "H 1 * * 1",
    "Learner engagement": "H 3 * * *",
    "Performance": "H 7 * * *",
    "Videos": "H 9 * * *",
}
HAND_MADE = """<?xml version='1.1' encoding='UTF-8'?>
<project>
  <description>made in the Jenkins UI</description>
  <builders><hudson.tasks.Shell><command>echo mine</command></hudson.tasks.Shell></builders>
</project>
"""


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml)


def jjb_reference(tmp_path: Path, text: str) -> dict[str, str]:
    """What jenkins-job-builder's own command line (``jenkins-jobs test``) renders for ``text``:
    the reference the wizard's output is held against."""
    source = tmp_path / "reference" / "jobs.yml"
    out = tmp_path / "reference" / "out"
    source.parent.mkdir()
    source.write_text(text, encoding="utf-8")
    ini = assets.path("jenkins", "jenkins_jobs.ini")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "jenkins_jobs", "--conf", str(ini), "test", "--config-xml"),
            *("-o", str(out), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {d.name: (d / "config.xml").read_text(encoding="utf-8") for d in out.iterdir()}


# --- the default jobs.yml ---------------------------------------------------------------


def test_the_runbook_jobs_with_their_schedules_and_settings() -> None:
    rendered = jj.render(jj.default_jobs_yaml(VALUES))
    assert sorted(rendered) == sorted(f"insights.example.com {t}" for t in RUNBOOK_SCHEDULES)
    clusters = set()
    for title, schedule in RUNBOOK_SCHEDULES.items():
        project = parse(rendered[f"insights.example.com {title}"])
        assert project.findtext("triggers/hudson.triggers.TimerTrigger/spec") == schedule
        command = project.findtext("builders/hudson.tasks.Shell/command") or ""
        assert command.startswith(". /home/jenkins/jenkins_env\n")
        assert "analytics-configuration/automation/run-automated-task.sh " in command
        clusters.add(shlex.split(command.splitlines()[1])[1])
        strategy = project.find("properties/jenkins.model.BuildDiscarderProperty/strategy")
        assert strategy is not None and strategy.findtext("numToKeep") == "50"
        timeout = project.find("buildWrappers/hudson.plugins.build__timeout.BuildTimeoutWrapper")
        assert timeout is not None and timeout.findtext("strategy/timeoutMinutes") == "300"
        assert (
            timeout.find("operationList/hudson.plugins.build__timeout.operations.FailOperation")
            is not None
        )
        assert project.findtext("publishers/hudson.tasks.Mailer/recipients") == "ops@example.com"
        agent = project.findtext(
            "buildWrappers/com.cloudbees.jenkins.plugins.sshagent.SSHAgentBuildWrapper/credentialIds/string"
        )
        assert agent == "ssh-access-key"
    # Each job its own CLUSTER_NAME, so jobs running at once never terminate each other's cluster.
    assert len(clusters) == len(RUNBOOK_SCHEDULES)
    assert all(c.startswith("CLUSTER_NAME=Acme Analytics Cluster ") for c in clusters)


def test_optional_jobs_only_when_asked() -> None:
    wanted = frozenset(
        {
            "jenkins.student_engagement_daily",
            "jenkins.student_engagement_weekly",
            "jenkins.problem_response_reports",
        }
    )
    every = jj.JobValues(**{**VALUES.__dict__, "opted_in": wanted})
    rendered = jj.render(jj.default_jobs_yaml(every))
    extra = {
        "Student engagement daily": "H 11 * * *",
        "Student engagement weekly": "H 13 * * 1",
        "Problem response reports": "H 20 * * *",
    }
    assert len(rendered) == len(RUNBOOK_SCHEDULES) + len(extra)
    for title, schedule in extra.items():
        project = parse(rendered[f"insights.example.com {title}"])
        assert project.findtext("triggers/hudson.triggers.TimerTrigger/spec") == schedule
    weekly = parse(rendered["insights.example.com Student engagement weekly"])
    assert "--interval-type weekly" in (
        weekly.findtext("builders/hudson.tasks.Shell/command") or ""
    )


def test_values_come_from_the_answers() -> None:
    answers = {
        "insights.base_url": "https://insights.acme.org/",
        "pipeline.cluster_name": "Acme Cluster",
        "jenkins.home": "/srv/jenkins",
        "edxapp.contact_email": "alerts@acme.org",
        "jenkins.ssh_credential_id": "hadoop-key",
        "jenkins.problem_response_reports": True,
        "jenkins.student_engagement_daily": False,
        "jenkins.student_engagement_weekly": False,
    }
    values = jj.values_from(answers.__getitem__)
    assert values.insights_host == "insights.acme.org"
    assert values.opted_in == {"jenkins.problem_response_reports"}
    assert set(jj.INPUTS) == set(answers)


def test_the_build_step_runs_in_bash_with_odd_values_literal(tmp_path: Path) -> None:
    """bash is the consumer: it sources jenkins_env and runs the task script with the arguments
    the runbook gives (a stub run-automated-task.sh records them)."""
    home = tmp_path / "jenkins home"
    stub = home / "analytics-configuration" / "automation" / "run-automated-task.sh"
    stub.parent.mkdir(parents=True)
    stub.write_text(
        "#!/bin/sh\n"
        'exec python3 -c \'import json, os, sys; print(json.dumps({"cluster": '
        'os.environ["CLUSTER_NAME"], "args": sys.argv[1:]}))\' "$@"\n'
    )
    stub.chmod(0o755)
    (home / "jenkins_env").write_text(
        "export START_DATE=2013-01-01\nexport NUM_REDUCE_TASKS=2\n"
        "export HADOOP_S3_BUCKET=s3://acme-edxanalytics\n"
        "export TRACKING_LOGS_S3_BUCKET=s3://acme-tracking-logs\n"
        "export TASK_CONFIGURATION_S3_BUCKET=s3://acme-analytics-emr\n"
        "export EDXAPP_S3_BUCKET=s3://acme-edxapp\n"
    )
    odd = f"Acme's {{x}} $HOME `id` {PLANTED_PASSWORD[:6]} Cluster"
    values = jj.JobValues(**{**VALUES.__dict__, "jenkins_home": str(home), "cluster_name": odd})
    rendered = jj.render(jj.default_jobs_yaml(values))
    ran = {}
    for title in ("Enrollments", "Performance"):
        command = parse(rendered[f"insights.example.com {title}"]).findtext(
            "builders/hudson.tasks.Shell/command"
        )
        result = subprocess.run(
            ["bash", "-e", "-c", command or ""], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        ran[title] = json.loads(result.stdout)
    assert ran["Enrollments"]["cluster"] == f"{odd} Enrollments"
    args = ran["Enrollments"]["args"]
    assert args[:2] == ["ImportEnrollmentsIntoMysql", "--local-scheduler"]
    assert args[args.index("--interval") + 1].startswith("2013-01-01-")
    perf = ran["Performance"]["args"]
    assert perf[perf.index("--src") + 1] == "'[\"s3://acme-tracking-logs/logs/tracking\"]'"
    assert perf[perf.index("--dest") + 1].startswith(
        "s3://acme-edxanalytics/intermediate/answer_dist/"
    )
    assert perf[perf.index("--marker") + 1] == perf[perf.index("--dest") + 1] + "/marker"


def test_render_errors_name_the_file_and_the_problem() -> None:
    with pytest.raises(jj.JobsError, match=r"jenkins/jobs.yml is not valid YAML"):
        jj.render("- job:\n    name: [unclosed\n")
    with pytest.raises(jj.JobsError, match=r"not one Jenkins accepts"):
        jj.render("- job:\n    name: 'a/b'\n")
    with pytest.raises(jj.JobsError, match=r"cannot be rendered"):
        jj.render("- jobb:\n    name: x\n")


# --- applying through the tunnel -------------------------------------------------------


def test_jobs_are_created_through_the_tunnel_exactly_as_jjb_renders_them(
    sshd_server: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    if sshd_server.process is None:
        sshd_server.start()
    known = tmp_path / "known_hosts"
    known.write_text(sshd_server.known_hosts_line())
    director = jt.director(
        "127.0.0.1", sshd_server.port, sshd_server.user, str(sshd_server.client_key), str(known)
    )
    text = jj.default_jobs_yaml(VALUES)
    with jt.JenkinsTunnel(
        director, jt.JenkinsHost("127.0.0.1", jenkins.port), free_port()
    ) as tunnel:
        tunnel.open()
        server = jj.connect(tunnel.url)
        plan = jj.plan(server, jj.render(text))
        assert [c.action for c in plan.changes] == [jj.CREATE] * len(RUNBOOK_SCHEDULES)
        records = jj.apply(server, plan)
    reference = jjb_reference(tmp_path, text)
    assert sorted(jenkins.jobs) == sorted(reference)
    assert sorted(jenkins.posts_to("/createItem")) == sorted(reference.values())
    assert ("GET", "/crumbIssuer/api/json") in jenkins.requests  # every POST carried the crumb
    assert set(records) == set(reference)


def test_a_second_run_changes_nothing(jenkins: JenkinsStandin) -> None:
    rendered = jj.render(jj.default_jobs_yaml(VALUES))
    server = jj.connect(jenkins.url)
    records = jj.apply(server, jj.plan(server, rendered))
    posts = len(jenkins.posted)
    for known in (records, None):  # with the ledger's records, and without (a fresh ledger)
        again = jj.plan(server, rendered, known)
        assert {c.action for c in again.changes} == {jj.UNCHANGED}
        assert again.pending == [] and all(c.diff == "" for c in again.changes)
        assert jj.apply(server, again) == records
    assert len(jenkins.posted) == posts  # not one POST


def test_a_changed_job_is_updated_after_its_diff_is_shown(jenkins: JenkinsStandin) -> None:
    text = jj.default_jobs_yaml(VALUES)
    server = jj.connect(jenkins.url)
    records = jj.apply(server, jj.plan(server, jj.render(text)))
    edited = text.replace("timed: H 0 * * *", "timed: H 2 * * *")
    rendered = jj.render(edited)
    plan = jj.plan(server, rendered, records)
    changed = [c for c in plan.changes if c.action != jj.UNCHANGED]
    assert [(c.name, c.action) for c in changed] == [
        ("insights.example.com Enrollments", jj.UPDATE)
    ]
    diff = changed[0].diff
    assert "-      <spec>H 0 * * *</spec>" in diff and "+      <spec>H 2 * * *</spec>" in diff
    # Only the schedule differs: the plugin versions Jenkins stamps on saving are no change.
    changed_lines = [line for line in diff.splitlines() if line[:1] in "+-"]
    assert [line for line in changed_lines if "spec" not in line] == [
        "--- a/job/insights.example.com Enrollments/config.xml",
        "+++ b/job/insights.example.com Enrollments/config.xml",
    ]
    jj.apply(server, plan)
    assert jenkins.posts_to("/job/insights.example.com Enrollments/config.xml") == [
        rendered["insights.example.com Enrollments"]
    ]


def test_removing_something_from_jobs_yml_reaches_jenkins(jenkins: JenkinsStandin) -> None:
    text = jj.default_jobs_yaml(VALUES)
    server = jj.connect(jenkins.url)
    records = jj.apply(server, jj.plan(server, jj.render(text)))
    # The operator drops the Traceback post-build task from every job.
    start = text.index("        - post-tasks:")
    end = text.index("        - email:")
    rendered = jj.render(text[:start] + text[end:])
    plan = jj.plan(server, rendered, records)
    assert {c.action for c in plan.changes} == {jj.UPDATE}
    assert all(c.reason == "jobs.yml changed" for c in plan.changes)
    assert all("-          <script>exit 1</script>" in c.diff for c in plan.changes)


def test_a_job_edited_in_jenkins_is_put_back_and_says_so(jenkins: JenkinsStandin) -> None:
    rendered = jj.render(jj.default_jobs_yaml(VALUES))
    server = jj.connect(jenkins.url)
    records = jj.apply(server, jj.plan(server, rendered))
    name = "insights.example.com Videos"
    jenkins.add_job(name, rendered[name].replace("H 9 * * *", "H 23 * * *"))
    plan = jj.plan(server, rendered, records)
    change = next(c for c in plan.changes if c.name == name)
    assert change.action == jj.UPDATE and "changed in Jenkins" in change.reason
    assert "+      <spec>H 9 * * *</spec>" in change.diff


def test_jobs_made_by_hand_are_never_touched(jenkins: JenkinsStandin) -> None:
    jenkins.add_job("nightly backup", HAND_MADE)
    taken = "insights.example.com Engagement"
    jenkins.add_job(taken, HAND_MADE)  # made by hand with a name jobs.yml declares
    server = jj.connect(jenkins.url)
    rendered = jj.render(jj.default_jobs_yaml(VALUES))
    plan = jj.plan(server, rendered)
    assert plan.untouched == ["nightly backup"]
    assert [c.name for c in plan.conflicts] == [taken]
    assert "did not create" in plan.conflicts[0].reason
    assert "1 made by hand" in plan.summary()
    jj.apply(server, plan)
    assert jenkins.jobs["nightly backup"] == jj_stored(HAND_MADE)
    assert jenkins.jobs[taken] == jj_stored(HAND_MADE)
    touched = [path for verb, path in jenkins.requests if "nightly" in path]
    assert touched == []  # not even read
    # Only when the operator says so does the wizard take the same-named job over.
    jj.apply(server, jj.plan(server, rendered), take_over={taken})
    assert jenkins.posts_to(f"/job/{taken}/config.xml") == [rendered[taken]]


def jj_stored(xml: str) -> str:
    from jenkins_standin import stored_form

    return stored_form(xml)


def test_jenkins_down_is_one_sentence_with_the_fix() -> None:
    server = jj.connect(f"http://127.0.0.1:{free_port()}/", timeout=5)
    with pytest.raises(jj.JobsError) as caught:
        jj.plan(server, {})
    assert "Jenkins refused the job list" in caught.value.message
    assert "tunnel" in caught.value.fix


# --- executors and the admin e-mail ------------------------------------------------------


def test_executors_and_admin_email_go_through_the_script_console(
    jenkins: JenkinsStandin,
) -> None:
    server = jj.connect(jenkins.url)
    assert jj.current_executors(server) == 2
    email = "o'brien+ci@example.com"
    # The stand-in cannot run Groovy: it records the script, and replies as Jenkins would
    # after running it (the wizard checks that reply).
    jenkins.script_output = f"executors=3 admin={email}\n"
    jj.apply_settings(server, 3, email)
    (script,) = jenkins.scripts
    assert "setNumExecutors(3)" in script
    assert "setAdminAddress('o\\'brien+ci@example.com')" in script
    jenkins.script_output = "groovy.lang.MissingPropertyException: No such property\n"
    with pytest.raises(jj.JobsError, match="did not confirm") as caught:
        jj.apply_settings(server, 3, email)
    assert "Configure System" in caught.value.fix


def test_the_settings_script_is_valid_groovy_syntax_for_odd_addresses() -> None:
    script = jj.settings_script(4, "a\\b'c$d@example.com")
    assert "'a\\\\b\\'c$d@example.com'" in script  # single-quoted: no ${} interpolation
    assert os.linesep not in "".join(script.splitlines())
