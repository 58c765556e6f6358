"""Command line: ``analytics-wizard [SECURE_REPO]`` opens the TUI; subcommands run headless.

The TUI itself is passed in by the launcher (``screens.entry``) so this module never imports it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__, exit_codes
from .steps import NAMES

DEFAULT_REPO = "secure-config"
DEMO_DIR = "demo-secure-config"

OpenTui = Callable[..., int]  # (repo) or, in demo mode, (repo, backends=...)
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def _repo_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "secure_repo",
        nargs="?",
        default=DEFAULT_REPO,
        metavar="SECURE_REPO",
        help=f"the client's secure repo (created and git-initialised if missing; default ./{DEFAULT_REPO})",
    )


def step_names(text: str) -> list[str]:
    """``--only``'s value: one step name or a comma list of them (argparse reports a bad one)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in NAMES]
    if unknown or not names:
        shown = ", ".join(repr(name) for name in unknown) or repr(text)
        raise argparse.ArgumentTypeError(
            f"invalid choice: {shown} (choose from {', '.join(NAMES)})"
        )
    return names


def host_key_fingerprint(text: str) -> str:
    """``--trust-host-key``'s value: an OpenSSH SHA256 fingerprint, as ssh-keygen -l prints."""
    fingerprint = text.strip().rstrip("=")
    if not FINGERPRINT.fullmatch(fingerprint):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a SHA256 host key fingerprint (SHA256: then 43 characters, as "
            "'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub' prints on the host)"
        )
    return fingerprint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analytics-wizard",
        description="Deploy the Open edX Analytics stack to AWS, step by step. Without a command, "
        "opens the interactive wizard on SECURE_REPO.",
        epilog="commands:\n"
        "  run               run steps headless from an answers file\n"
        "  status            show each step's state and why\n"
        "  answers-template  print a complete, commented answers file\n"
        "  tunnel            open the Jenkins tunnel only\n"
        "  report            verify the deployment, item by item\n"
        "  demo              the whole flow on this machine against local stand-ins\n\n"
        "Use 'analytics-wizard COMMAND --help' for a command's options.\n\n" + exit_codes.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"analytics-wizard {__version__}")
    _repo_arg(parser)
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analytics-wizard", add_help=True)
    parser.add_argument("--version", action="version", version=f"analytics-wizard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    formatter = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser(
        "run",
        help="run steps headless from an answers file",
        description="Run the steps headless, from an answers file (see answers-template).",
        epilog=exit_codes.HELP,
        formatter_class=formatter,
    )
    run.add_argument("--answers", required=True, metavar="FILE", help="the answers file (YAML)")
    _repo_arg(run)
    run.add_argument(
        "--only",
        action="extend",
        type=step_names,
        metavar="STEP[,STEP]",
        help=f"run only these steps, in the wizard's order; a comma list, or repeat the option "
        f"(steps: {', '.join(NAMES)})",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="show what would change; change nothing"
    )
    run.add_argument("--force", action="store_true", help="overwrite values changed by hand")
    run.add_argument(
        "--confirm-destroy",
        action="store_true",
        help="allow a terraform plan that destroys or replaces resources (--force does not)",
    )
    run.add_argument(
        "--start-at-task",
        metavar="TASK",
        help="playbooks: start the run at this task (e.g. the one that failed; 'beginning' runs "
        "everything again)",
    )
    run.add_argument(
        "--adopt-untracked",
        action="store_true",
        help="terraform: first import into the state what an interrupted apply left in AWS "
        "untracked (as f7 does in the wizard)",
    )
    run.add_argument(
        "--accept",
        action="append",
        metavar="CHECK_ID",
        help="prereqs: go on although this check fails, as 'o' does in the wizard (you dealt "
        "with it another way); recorded in the ledger as an override; repeat for several",
    )
    run.add_argument(
        "--trust-host-key",
        action="append",
        type=host_key_fingerprint,
        metavar="SHA256:…",
        help="trust an SSH host that is not in known_hosts when it presents this key (a "
        "fingerprint you checked with the host's owner); it is then added to known_hosts; "
        "repeat for several",
    )
    run.add_argument("--json", action="store_true", help="print one JSON document of the results")

    status = sub.add_parser(
        "status",
        help="show each step's state",
        epilog=exit_codes.HELP,
        formatter_class=formatter,
        description="Show each step's state (done / stale / pending / failed) and why.",
    )
    _repo_arg(status)
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.add_argument(
        "--verify",
        action="store_true",
        help="also check the outside world (e.g. that AWS still matches terraform's state)",
    )

    sub.add_parser(
        "answers-template",
        help="print a complete, commented answers file",
        description="Print a complete, commented answers file to fill in for 'run --answers'.",
    )
    tunnel = sub.add_parser(
        "tunnel",
        help="open the Jenkins tunnel only",
        description="Open the SSH tunnel to Jenkins through the director and keep it up until "
        "ctrl+c (it reconnects when the connection drops). On the director itself (no "
        "director.host), check Jenkins and print the ssh line for your laptop.",
        epilog=exit_codes.HELP,
        formatter_class=formatter,
    )
    _repo_arg(tunnel)
    tunnel.add_argument(
        "--local-port",
        type=int,
        metavar="PORT",
        help="the tunnel's local port (default: the jenkins.local_port answer)",
    )
    tunnel.add_argument(
        "--json",
        action="store_true",
        help="one JSON status object per line; the first once the tunnel is up",
    )
    report = sub.add_parser(
        "report",
        help="verify the deployment, item by item",
        description="Check Insights, the Analytics API, Jenkins (through the tunnel, its jobs, "
        "not public), the secure-repo files, the creds in the bucket and the ledger; each item "
        "pass / warn / fail with the fix. Changes nothing.",
        epilog=exit_codes.HELP,
        formatter_class=formatter,
    )
    _repo_arg(report)
    report.add_argument("--json", action="store_true", help="print one JSON document")
    _demo_parser(sub)
    return parser


def _demo_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="the whole flow on this machine against local stand-ins",
        description="Start local stand-ins (AWS on moto, MariaDB, sshd as the director and the "
        "analytics host, Jenkins, Insights, the Analytics API), write demo answers and open the "
        "wizard on a demo secure repo in DIR, or run every step headless. No AWS account is "
        "used and nothing is written outside DIR; the stand-ins stop when it ends.",
        epilog=exit_codes.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "directory",
        nargs="?",
        default=DEMO_DIR,
        metavar="DIR",
        help=f"the demo secure repo and the stand-ins' files (default ./{DEMO_DIR})",
    )
    demo.add_argument("--headless", action="store_true", help="run every step, then the report")
    demo.add_argument("--json", action="store_true", help="with --headless: one JSON document")
    what = demo.add_mutually_exclusive_group()
    what.add_argument("--stop", action="store_true", help="stop a demo left running")
    what.add_argument("--reset", action="store_true", help="delete the demo repo, start over")


COMMANDS = ("run", "status", "answers-template", "tunnel", "report", "demo")


def main(argv: Sequence[str] | None = None, open_tui: OpenTui | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    if first in COMMANDS:
        args = build_command_parser().parse_args(args_list)
    else:
        args = build_parser().parse_args(args_list)
        args.command = None

    if args.command == "status" and not args.verify:
        from . import quickstatus

        recorded = quickstatus.answer(Path(args.secure_repo), as_json=args.json)
        if recorded is not None:
            return recorded
    if args.command is None and open_tui is not None:
        return _tui(Path(args.secure_repo), open_tui)
    from . import headless

    try:
        if args.command == "demo":
            from .demo.command import demo_command

            return demo_command(
                Path(args.directory),
                headless=args.headless,
                as_json=args.json,
                stop=args.stop,
                reset=args.reset,
                open_tui=open_tui,
            )
        if args.command == "run" and _demo_repo(Path(args.secure_repo)):
            return exit_codes.USAGE
        if args.command == "run":
            return headless.run(
                Path(args.secure_repo),
                Path(args.answers),
                only=args.only,
                dry_run=args.dry_run,
                force=args.force,
                as_json=args.json,
                confirm_destroy=args.confirm_destroy,
                start_at_task=args.start_at_task,
                adopt_untracked=args.adopt_untracked,
                accept=args.accept or (),
                trust_host_keys=args.trust_host_key or (),
            )
        if args.command == "status":
            return headless.status(Path(args.secure_repo), as_json=args.json, verify=args.verify)
        if args.command == "answers-template":
            from .answers import template

            sys.stdout.write(template())
            return exit_codes.OK
        if args.command == "tunnel":
            from . import access

            return access.tunnel_command(
                Path(args.secure_repo), as_json=args.json, local_port=args.local_port
            )
        if args.command == "report":
            from . import access

            return access.report_command(Path(args.secure_repo), as_json=args.json)
        headless.say_error(
            "this entry point runs the headless commands only",
            "open the interactive wizard with 'analytics-wizard' (or 'python -m screens'), "
            "or use 'run --answers FILE'",
        )
        return exit_codes.USAGE
    except KeyboardInterrupt:
        return interrupted()


def _tui(repo: Path, open_tui: OpenTui) -> int:
    """The wizard itself. The headless module (and the session's modules it imports) is not
    loaded before the first frame, only to report a failure."""
    if _demo_repo(repo):
        return exit_codes.USAGE
    try:
        return open_tui(repo)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as exc:  # the last line of defence: no traceback reaches the operator
        from . import headless

        return headless.report(exc)


def interrupted() -> int:
    from . import headless

    headless.say_error("interrupted; nothing half-written was left behind")
    return exit_codes.INTERRUPTED


def _demo_repo(repo: Path) -> bool:
    """Whether ``repo`` is a demo repo (then said, with what to do instead)."""
    if not (repo / ".demo").is_dir():
        return False  # no import of demo mode for a real repo
    from . import headless
    from .demo.core import refuse_demo_repo
    from .errors import UsageError

    try:
        refuse_demo_repo(repo)
    except UsageError as exc:
        headless.say_error(exc.message, exc.fix)
        return True
    return False
