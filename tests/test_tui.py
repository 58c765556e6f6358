"""The wizard's screens driven by Pilot, on real secure repos (no mocks).

Each test reads like an operator's session: type, leave the field, preview, confirm, quit.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import PLANTED_PASSWORD, run_cli
from rich.console import Console
from snapshot_apps import repos
from snapshot_apps.repos import (
    GENERATED,
    fixed_answers,
    form_ready,
    hand_edit,
    make_repo,
    settle,
)
from snapshot_apps.svg_text import svg_text
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, RadioButton, RadioSet, Static

from screens.app import InternalError, WizardApp, run_app
from screens.conflicts import ConflictChoice
from screens.field_row import input_id
from screens.footer import KeysFooter
from screens.main import MainScreen, verified_age
from screens.preview import PreviewScreen
from screens.step_form import StepForm
from wizard import yamlio
from wizard.answers import flatten
from wizard.engine import Session
from wizard.fields import BY_KEY, FieldError
from wizard.lock import LockedError
from wizard.redact import MASK, variants
from wizard.steps import STEPS
from wizard.steps.files import INPUTS, PATHS

Scenario = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture
def drive() -> Callable[..., WizardApp]:
    """Run a scenario against the wizard on a repo; the session is released afterwards."""
    return repos.drive


def field(pilot: Pilot[None], key: str) -> Input:
    return selected_form(pilot).query_one(f"#{input_id(key)}", Input)


def text_of(widget: Static) -> str:
    return str(widget.render())


def form_message(pilot: Pilot[None]) -> str:
    return text_of(selected_form(pilot).query_one("#form-message", Static))


def selected_form(pilot: Pilot[None]) -> StepForm:
    """The form of the step selected in the sidebar (every step has one, alike in ids)."""
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen) and screen.form is not None
    return screen.form


async def enter(pilot: Pilot[None], key: str, value: str) -> None:
    """Put ``value`` in the field (as a paste would) and press enter to confirm it."""
    widget = field(pilot, key)
    widget.focus()
    widget.value = value
    await pilot.press("enter")


async def open_preview(pilot: Pilot[None]) -> PreviewScreen:
    await pilot.press("ctrl+p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PreviewScreen), form_message(pilot)
    return screen


async def write_files(pilot: Pilot[None]) -> None:
    """From the preview: ctrl+s, say yes in the dialog, wait for the write."""
    await pilot.press("ctrl+s")
    await pilot.pause()
    await pilot.press("y")
    await settle(pilot)


def saved_answers(repo: Path) -> dict[str, object]:
    answers = flatten(yamlio.load(repo / ".wizard" / "answers.yml"), "answers")
    answers.update(flatten(yamlio.load(repo / ".wizard" / "secrets.yml"), "secrets"))
    return answers


def sidebar_text(pilot: Pilot[None]) -> dict[str, str]:
    steps = pilot.app.screen.query_one("#steps", OptionList)
    return {option.id or "": str(option.prompt) for option in steps.options}


# --- answers are kept -------------------------------------------------------------------


def test_typed_answers_survive_quit_and_relaunch(drive, repo: Path) -> None:
    async def type_and_quit(pilot: Pilot[None]) -> None:
        field(pilot, "client.name").focus()
        await pilot.press(*"acme", "tab")  # typed key by key, confirmed by leaving the field
        await enter(pilot, "edxapp.lms_host", "lms.acme.test")
        await enter(pilot, "edxapp.migrate_password", PLANTED_PASSWORD)
        field(pilot, "edxapp.contact_email").focus()
        await pilot.press(*"ops@acme.test")  # still in the field when the operator quits
        await pilot.press("ctrl+q")

    app = drive(repo, type_and_quit)
    assert app.return_code == 0
    saved = saved_answers(repo)
    assert saved["client.name"] == "acme"
    assert saved["edxapp.lms_host"] == "lms.acme.test"
    assert saved["edxapp.contact_email"] == "ops@acme.test"
    assert saved["edxapp.migrate_password"] == PLANTED_PASSWORD
    assert PLANTED_PASSWORD not in (repo / ".wizard" / "answers.yml").read_text()

    async def relaunched(pilot: Pilot[None]) -> None:
        assert field(pilot, "client.name").value == "acme"
        assert field(pilot, "edxapp.lms_host").value == "lms.acme.test"
        assert field(pilot, "edxapp.contact_email").value == "ops@acme.test"
        password = field(pilot, "edxapp.migrate_password")
        assert password.value == PLANTED_PASSWORD and password.password
        # A derived default follows the saved client name.
        assert field(pilot, "edxapp.tracking_logs_bucket").placeholder == "acme-tracking-logs"
        assert "pending" in sidebar_text(pilot)["files"]

    drive(repo, relaunched)


def test_relaunch_shows_step_states_from_the_ledger(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def change_an_answer(pilot: Pilot[None]) -> None:
        assert "done" in sidebar_text(pilot)["files"]
        await enter(pilot, "edxapp.contact_email", "admin@acme.test")
        await settle(pilot)
        assert "stale" in sidebar_text(pilot)["files"]
        await pilot.press("ctrl+q")

    drive(repo, change_an_answer)

    async def relaunched(pilot: Pilot[None]) -> None:
        assert field(pilot, "edxapp.contact_email").value == "admin@acme.test"
        assert "stale" in sidebar_text(pilot)["files"]
        heading = text_of(pilot.app.screen.query_one("#step-heading", Static))
        assert "answers changed since it ran: edxapp.contact_email" in heading

    drive(repo, relaunched)


def test_the_wizard_opens_on_the_first_step_to_do_and_says_what_to_do_there(
    drive, repo: Path
) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def first_screen(pilot: Pilot[None]) -> None:
        assert selected_form(pilot).step.name == "prereqs"
        assert form_message(pilot) == (
            "To do next: fill in the fields here (enter confirms each), then ctrl+p "
            "(Run checks) and ctrl+s (Continue)."
        )

    drive(repo, first_screen, initial=None)

    async def on_a_done_step(pilot: Pilot[None]) -> None:
        assert form_message(pilot) == "This step is done. Next: Prerequisites (ctrl+n goes there)."
        await pilot.press("ctrl+n")
        await form_ready(pilot)
        assert selected_form(pilot).step.name == "prereqs"
        assert pilot.app.focused is field(pilot, "aws.profile")  # its first field
        assert form_message(pilot).startswith("To do next: fill in the fields here")
        steps = pilot.app.screen.query_one("#steps", OptionList)
        assert steps.highlighted == 0  # the list follows

    drive(repo, on_a_done_step, initial="files")


def test_esc_on_the_step_list_goes_back_to_the_field_left(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("tab")  # aws.profile -> aws.region
        region = field(pilot, "aws.region")
        assert pilot.app.focused is region
        await pilot.press("f2")
        steps = pilot.app.screen.query_one("#steps", OptionList)
        assert pilot.app.focused is steps
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.focused is region  # back where it was, on the same step
        assert selected_form(pilot).step.name == "prereqs"
        await pilot.press("f2", "down", "escape")  # another step highlighted: its first field
        await form_ready(pilot)
        assert selected_form(pilot).step.name == "terraform"
        assert pilot.app.focused is field(pilot, "client.name")

    drive(repo, scenario, initial=None)


# --- validation ---------------------------------------------------------------------------


def test_invalid_value_shows_what_is_allowed_and_blocks_preview(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    with pytest.raises(FieldError) as allowed:
        BY_KEY["client.name"].clean("Acme Corp")

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.click(f"#{input_id('client.name')}")
        await pilot.press("end", "space", *"Corp", "home", "delete", "A")
        assert field(pilot, "client.name").value == "Acme Corp"
        error = pilot.app.screen.query(".field-error").first(Static)
        assert text_of(error) == str(allowed.value)
        assert error.display
        await pilot.press("tab")  # leaving an invalid field saves nothing
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(pilot.app.screen, MainScreen)
        assert "Client name (invalid)" in form_message(pilot)
        assert pilot.app.focused is field(pilot, "client.name")
        await pilot.press("ctrl+s")  # no write from here either
        await pilot.pause()
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, scenario)
    assert saved_answers(repo)["client.name"] == "acme"


def test_missing_required_answers_are_named_before_preview(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        button = selected_form(pilot).query_one("#preview-button")
        button.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(button)  # the mouse works too
        await settle(pilot)
        assert isinstance(pilot.app.screen, MainScreen)
        message = form_message(pilot)
        for label in ("Client name", "LMS host", "Migration password", "Elasticsearch host"):
            assert f"{label} (required)" in message
        # Generated secrets and fields with a default are not asked for.
        assert "Analytics DB password" not in message and "Environment" not in message

    drive(repo, scenario)
    assert not (repo / "vars-analytics.yml").exists()


# --- the whole flow -------------------------------------------------------------------------


def test_tui_writes_the_same_six_files_as_headless(
    drive, tmp_path: Path, repo: Path, write_answers
) -> None:
    answers = fixed_answers()
    flat = flatten(answers, "answers")

    async def fill_preview_write(pilot: Pilot[None]) -> None:
        for key in INPUTS:
            if key in flat:
                await enter(pilot, key, str(flat[key]))
        preview = await open_preview(pilot)
        assert preview.plan is not None and len(preview.plan.pending) == 6
        await write_files(pilot)
        assert isinstance(pilot.app.screen, MainScreen)
        # What to do next leads; what the run did follows.
        assert form_message(pilot) == (
            "Secure-repo files is done; next: Prerequisites (ctrl+n). Wrote 6 files."
        )
        assert "done" in sidebar_text(pilot)["files"]

    drive(repo, fill_preview_write)

    headless = tmp_path / "headless-repo"
    result = run_cli("run", "--answers", write_answers(answers), headless, "--only", "files")
    assert result.returncode == 0, result.stderr
    for path in PATHS:
        assert (repo / path).read_bytes() == (headless / path).read_bytes(), path
        assert (repo / path).stat().st_mode == (headless / path).stat().st_mode, path
    # The answers the TUI saved are the ones the headless run was given.
    saved = saved_answers(repo)
    assert {k: saved[k] for k in INPUTS if k in flat} == {k: flat[k] for k in INPUTS if k in flat}


def test_second_write_changes_nothing(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        assert preview.plan is not None and preview.plan.pending == []
        # The footer names ctrl+s as the button does ("Write", not a generic "Run").
        footer = {b.binding.key: b.binding.description for b in preview.active_bindings.values()}
        button = str(preview.query_one("#run", Button).label)
        assert footer["ctrl+s"] == preview.step.verb and button.startswith(footer["ctrl+s"])
        await write_files(pilot)
        assert form_message(pilot).endswith(". No changes.")

    drive(repo, scenario)


def test_cancelled_confirm_writes_nothing(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers())

    async def scenario(pilot: Pilot[None]) -> None:
        await open_preview(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(pilot.app.screen, PreviewScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, scenario)
    assert not (repo / "vars-analytics.yml").exists()


# --- hand-edited values -------------------------------------------------------------------


def test_hand_edited_value_is_a_conflict_and_keep_keeps_it(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    hand_edit(repo, "EDXAPP_CONTACT_EMAIL", "admin@acme.test")

    async def keep(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        (choice,) = preview.query(ConflictChoice)
        assert choice.conflict.key == "EDXAPP_CONTACT_EMAIL"
        assert (choice.current, choice.wizard) == ("admin@acme.test", "ops@example.com")
        await pilot.press("ctrl+s")  # undecided: no dialog, a message naming the value
        await pilot.pause()
        assert isinstance(pilot.app.screen, PreviewScreen)
        assert "EDXAPP_CONTACT_EMAIL" in text_of(preview.query_one("#preview-status", Static))
        await pilot.click(next(b for b in choice.query(RadioButton) if b.name == "keep"))
        await settle(pilot)
        assert preview.plan is not None and preview.plan.conflicts == []
        await write_files(pilot)
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, keep)
    assert "EDXAPP_CONTACT_EMAIL: 'admin@acme.test'" in (repo / "vars-analytics.yml").read_text()

    async def remembered(pilot: Pilot[None]) -> None:
        assert "done" in sidebar_text(pilot)["files"]
        preview = await open_preview(pilot)
        assert not preview.query(ConflictChoice)

    drive(repo, remembered)


def test_overwrite_of_a_hand_edited_secret_never_shows_it(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    typed_by_hand = "Hand-typed-S3cret-4411"
    hand_edit(repo, "COMMON_MYSQL_MIGRATE_PASS", typed_by_hand)

    async def overwrite(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        (choice,) = preview.query(ConflictChoice)
        assert choice.conflict.secret and choice.current == choice.wizard == MASK
        choice.query_one(RadioSet).focus()
        await pilot.press("right", "enter")  # keyboard: move to "overwrite", choose it
        await settle(pilot)
        assert choice.decision == "overwrite"
        assert preview.plan is not None and [c.path for c in preview.plan.pending] == [
            "vars-analytics.yml"
        ]
        for size in ((80, 24), (140, 200)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            shot = svg_text(pilot.app.export_screenshot())
            assert "Hand-typed" not in shot and "Pl4nted" not in shot
        await write_files(pilot)

    drive(repo, overwrite)
    assert typed_by_hand not in (repo / "vars-analytics.yml").read_text()


# --- secrets ---------------------------------------------------------------------------------


def test_secret_toggle_shows_and_hides_every_secret(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers())
    secret_keys = [k for k in INPUTS if BY_KEY[k].secret]

    async def scenario(pilot: Pilot[None]) -> None:
        assert all(field(pilot, k).password for k in secret_keys)
        assert not any(field(pilot, k).password for k in INPUTS if k not in secret_keys)
        shot = svg_text(pilot.app.export_screenshot())
        await pilot.press("ctrl+t")
        assert not any(field(pilot, k).password for k in secret_keys)
        assert "shown" in form_message(pilot)
        await pilot.press("ctrl+t")
        assert all(field(pilot, k).password for k in secret_keys)
        assert "Pl4nted" not in shot

    drive(repo, scenario)


def test_generated_secrets_say_so_and_never_show_a_value(drive, repo: Path) -> None:
    answers = fixed_answers()
    del answers["database"]["analytics_password"]
    make_repo(repo, answers)

    async def scenario(pilot: Pilot[None]) -> None:
        assert field(pilot, "database.analytics_password").placeholder == "generated"
        assert field(pilot, "database.analytics_password").value == ""
        # The first preview generates it; back on the form it is there, masked.
        await open_preview(pilot)
        await pilot.press("escape")
        await pilot.pause()
        generated = field(pilot, "database.analytics_password")
        assert generated.password and len(generated.value) == 40
        for key in GENERATED:
            assert field(pilot, key).placeholder == "generated"

    drive(repo, scenario)


def test_planted_password_never_reaches_a_preview_screenshot(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers())

    async def scenario(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        assert preview.plan is not None
        written = "".join(c.new for c in preview.plan.pending)
        assert any(form in written for form in variants(PLANTED_PASSWORD))  # it is in a file
        for size in ((80, 24), (120, 400)):  # 400 rows: every diff on screen at once
            await pilot.resize_terminal(*size)
            await pilot.pause()
            shot = svg_text(pilot.app.export_screenshot())
            for fragment in ("Pl4nted", "7734", "x}}ü"):
                assert fragment not in shot
        assert f"+COMMON_MYSQL_MIGRATE_PASS: !unsafe '{MASK}'" in shot

    drive(repo, scenario)


# --- every step has its form -------------------------------------------------------------


def test_every_step_is_reached_by_keyboard_and_mouse(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        sidebar = sidebar_text(pilot)
        assert list(sidebar) == [step.name for step in STEPS]
        assert "done" in sidebar["files"]
        assert sidebar["report"].endswith("pending")
        screen = pilot.app.screen
        await pilot.press("f2", "home")  # keyboard: to the step list, then down it, one by one
        for step in STEPS:
            await pilot.pause()
            assert text_of(screen.query_one("#step-heading", Static)).startswith(step.title)
            assert screen.query_one(f"#{step.name}", StepForm).display
            # A form is built on its step's first visit: the others are hidden or not built yet.
            shown = [form.id for form in screen.query(StepForm) if form.display]
            assert shown == [step.name]
            await pilot.press("down")
        await pilot.click("#steps", offset=(3, 7))  # mouse: the files step's line
        await pilot.pause()
        assert screen.query_one("#files", StepForm).display

    drive(repo, scenario)


def test_every_forms_keys_fit_an_80_column_footer(drive, repo: Path) -> None:
    # The footer scrolls sideways rather than wrap: keys past its edge were never seen (the
    # terraform form's pushed f2 Steps and ^q Quit out of sight).
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        overflowing = {}
        for index, step in enumerate(STEPS):
            await pilot.press("f2", "home", *["down"] * index, "enter")
            await form_ready(pilot)
            assert isinstance(pilot.app.focused, Input), step.name  # the form's keys show
            footer = screen.query_one(KeysFooter)
            keys = " ".join(str(key.render()) for key in footer.query("FooterKey"))
            if footer.virtual_size.width > footer.size.width:
                overflowing[step.name] = keys
            assert "Quit" in keys and "Steps" in keys
        assert overflowing == {}

    drive(repo, scenario)


# --- failures are sentences ------------------------------------------------------------------


def test_step_error_is_shown_as_a_sentence(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    (repo / "analytics-tasks" / "emr-vars.yml").write_text("name: [unclosed\n")

    async def scenario(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        status = preview.query_one("#preview-status", Static)
        assert "fix the file by hand or move it aside" in text_of(status)
        assert "Traceback" not in svg_text(pilot.app.export_screenshot())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pilot.app.screen is preview  # nothing to confirm

    drive(repo, scenario)


def test_run_app_raises_what_kept_the_repo_from_opening(repo: Path) -> None:
    # A held lock ends the wizard, and run_app raises it once Textual has given the terminal
    # back, so the CLI can say it plainly.
    with Session.open(repo, write=True, command="test"), pytest.raises(LockedError):
        run_app(repo)


def test_second_wizard_on_a_held_repo_exits_4_with_a_sentence(repo: Path) -> None:
    with Session.open(repo, write=True, command="test"):
        result = run_cli(repo)
    assert result.returncode == 4
    assert "another analytics-wizard is working on this secure repo" in result.stderr
    assert "Traceback" not in result.stderr


def test_resizes_cleanly(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        for width, height in ((80, 24), (60, 20), (132, 43), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            assert pilot.app.screen.query_one("#steps").region.height > 0
            assert pilot.app.focused is not None
        shot = svg_text(pilot.app.export_screenshot())
        assert "Secure-repo files" in shot and "Client name" in shot

    drive(repo, scenario)


def test_a_bug_shows_one_sentence_and_logs_the_traceback_masked(repo: Path) -> None:
    make_repo(repo, fixed_answers())

    class CrashingWizard(WizardApp):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("f9", "crash")]

        def action_crash(self) -> None:
            raise RuntimeError(f"cannot use {PLANTED_PASSWORD}")

    app = CrashingWizard(Session.open(repo, write=True, command="tui"))

    async def main() -> None:
        async with app.run_test() as pilot:
            await form_ready(pilot)
            await pilot.press("f9")
            await pilot.pause()

    try:
        with pytest.raises(InternalError) as crash:
            asyncio.run(main())
    finally:
        app.session.close()
    shown = Console(width=200, file=io.StringIO(), record=True)
    shown.print(crash.value)
    assert shown.export_text().strip() == (
        "error: internal error (RuntimeError); this is a bug in analytics-wizard. "
        "The details are in .wizard/logs/ of the secure repo."
    )
    assert app.return_code == 1
    (log,) = (repo / ".wizard" / "logs").glob("*-tui-*.log")
    logged = log.read_text()
    assert f"RuntimeError: cannot use {MASK}" in logged
    assert "Pl4nted" not in logged


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (None, "not verified yet"),
        (59, "verified just now"),
        (61, "verified 1 min ago"),
        (3 * 3600 + 5, "verified 3 h ago"),
        (3 * 86400, "verified 3 days ago"),
    ],
)
def test_the_sidebar_says_how_long_ago_the_steps_were_verified(ago: int | None, words: str) -> None:
    now = 1_800_000_000.0
    assert verified_age(None if ago is None else now - ago, now) == words


def test_enter_on_a_step_before_its_form_is_built_focuses_its_first_field(
    drive, repo: Path
) -> None:
    make_repo(repo, fixed_answers())

    async def quick(pilot: Pilot[None]) -> None:
        # The files form is built on its first visit; enter comes before its fields are there.
        await pilot.press("f2", "down", "down", "down", "enter")
        await settle(pilot)
        for _ in range(100):
            if isinstance(pilot.app.focused, Input):
                break
            await pilot.pause()
        assert selected_form(pilot).step.name == "files"
        assert pilot.app.focused is field(pilot, "client.name")

    drive(repo, quick, initial=None)


# --- dialogs answered before they were drawn ----------------------------------------------------


@pytest.mark.parametrize("dialog", ["confirm", "word", "quit"])
def test_a_dialog_answered_before_it_was_drawn_is_no_error(dialog: str) -> None:
    """A key typed ahead (ctrl+s then y at once, over a slow link) can answer a dialog before it
    has mounted its buttons: the answer counts and nothing fails (it was a NoMatches crash)."""
    from textual.app import App

    from screens.confirm import ConfirmDialog, QuitDialog, WordDialog
    from wizard.steps.base import Plan

    made, answer = {
        "confirm": (lambda: ConfirmDialog("Trust it?", "Trust"), lambda d: d.action_answer(True)),
        "word": (
            lambda: WordDialog(Plan("terraform", confirm="destroy")),
            lambda d: d.action_cancel(),
        ),
        "quit": (lambda: QuitDialog("The Terraform step"), lambda d: d.action_answer("leave")),
    }[dialog]
    app: App[None] = App()
    results: list[object] = []

    async def main() -> None:
        async with app.run_test() as pilot:
            shown = made()
            app.push_screen(shown, results.append)
            answer(shown)  # before the dialog's own first message (its mount) is handled
            await pilot.pause(0.2)

    asyncio.run(main())
    assert app._exception is None, app._exception
    assert results == [{"confirm": True, "word": None, "quit": "leave"}[dialog]]
