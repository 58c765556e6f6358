"""The forms agree with each other and say what they cannot show at once (issue 13).

Driven by Pilot on real secure repos at 80x24, as an operator would: type in one step's form,
switch step, read what the other form shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PLANTED_PASSWORD, complete_answers
from snapshot_apps.repos import choose_step, fixed_answers, hand_edit, make_repo, settle
from snapshot_apps.svg_text import svg_text
from test_tui import (
    drive,
    enter,
    field,
    form_message,
    open_preview,
    saved_answers,
    selected_form,
)
from textual.pilot import Pilot
from textual.widgets import RadioButton

from screens.confirm import ConfirmDialog
from screens.conflicts import ConflictChoice
from screens.field_row import FieldRow, input_id
from screens.main import MainScreen
from screens.message import MessageScreen
from wizard import drafts
from wizard.drafts import Draft
from wizard.engine import Session
from wizard.fields import BY_KEY, FieldError

__all__ = ["drive"]  # the fixture, shared with test_tui


def shown(pilot: Pilot[None]) -> str:
    return svg_text(pilot.app.export_screenshot())


# --- one answer, one value everywhere --------------------------------------------------------


def test_an_answer_saved_in_one_form_shows_in_every_other_form_at_once(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        # Both forms are on screen once before the answer is given (their fields are mounted).
        await choose_step(pilot, "terraform")
        assert field(pilot, "aws.profile").value == ""
        await choose_step(pilot, "prereqs")
        await enter(pilot, "aws.profile", "globex-ops")
        await choose_step(pilot, "database")
        await enter(pilot, "database.analytics_password", PLANTED_PASSWORD)
        await choose_step(pilot, "terraform")
        profile = field(pilot, "aws.profile")
        assert profile.value == "globex-ops"
        await choose_step(pilot, "files")
        password = field(pilot, "database.analytics_password")
        assert password.value == PLANTED_PASSWORD and password.password  # still masked
        assert "globex-ops" not in form_message(pilot)

    drive(repo, scenario, initial="files")
    assert saved_answers(repo)["aws.profile"] == "globex-ops"


def test_a_field_being_edited_is_not_overwritten_by_another_forms_answer(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "terraform")
        name = field(pilot, "client.name")
        name.focus()
        await pilot.press(*"Not A Slug")  # invalid: stays in the field, unsaved
        await choose_step(pilot, "files")
        await enter(pilot, "client.name", "globex")
        await choose_step(pilot, "terraform")
        assert field(pilot, "client.name").value == "Not A Slug"
        # The derived default of an untouched field follows the saved answer.
        assert field(pilot, "edxapp.tracking_logs_bucket").placeholder == "globex-tracking-logs"

    drive(repo, scenario, initial="files")


# --- issue 13 item 8: the LMS URL is asked where it is needed ---------------------------------


def test_the_prerequisites_form_asks_the_lms_host_its_lms_url_comes_from(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "prereqs")
        assert field(pilot, "edxapp.lms_url").placeholder == "required"
        await enter(pilot, "edxapp.lms_host", "lms.globex.test")
        assert field(pilot, "edxapp.lms_url").placeholder == "https://lms.globex.test"
        await choose_step(pilot, "files")
        assert field(pilot, "edxapp.lms_host").value == "lms.globex.test"

    drive(repo, scenario, initial="files")


def test_no_label_runs_into_its_field_at_80_columns(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        for step in ("terraform", "files", "database", "jenkins"):
            await choose_step(pilot, step)
            screen = shown(pilot).splitlines()
            fields = selected_form(pilot).query_one(".form-fields").region
            rows = [row for row in selected_form(pilot).query(FieldRow) if row.region in fields]
            assert len(rows) > 3, step
            for row in rows:
                # Every word of the label is on screen left of the field, a space between them.
                left, region = row.input.region.x, row.region
                label = [
                    screen[y][region.x : left].ljust(left - region.x)
                    for y in range(region.y, region.bottom)
                ]
                assert " ".join(" ".join(label).split()) == row.field.label, (step, label)
                assert all(line.endswith(" ") for line in label), (step, label)

    drive(repo, scenario, initial="files")


def test_a_fields_message_shows_under_it_while_its_value_does_not_fit(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    with pytest.raises(FieldError) as allowed:
        BY_KEY["client.name"].clean("acme ")
    first_words = " ".join(str(allowed.value).split()[:3])

    async def scenario(pilot: Pilot[None]) -> None:
        row = selected_form(pilot).rows["client.name"]
        await pilot.click(f"#{input_id('client.name')}")
        await pilot.press("end", "space")
        await settle(pilot)
        assert row.region.height > 1 and first_words in shown(pilot)
        await pilot.press("backspace")
        await settle(pilot)
        assert row.region.height == 1 and first_words not in shown(pilot)
        assert not row.query(".field-error")  # the message is there only while it is shown

    drive(repo, scenario, initial="files")


# --- issue 13 item 6: messages are never cut -------------------------------------------------


def test_a_long_message_can_be_read_to_its_last_word(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+p")  # an empty files form: every required field is named
        await settle(pilot)
        message = form_message(pilot)
        last = message.rstrip(".").rsplit(", ", 1)[-1]
        assert last and last not in shown(pilot).replace("\n", " ")  # too long for the area
        assert "ctrl+o" in shown(pilot)  # the area says how to read the rest
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MessageScreen)
        screen_text = " ".join(shown(pilot).split())
        assert last in screen_text and "Fix these before the preview" in screen_text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, scenario, initial="files")


def test_a_preview_status_too_long_for_its_area_can_be_read_whole(drive, repo: Path) -> None:
    # The status area above a preview holds six lines: a longer status (the Jenkins jobs to
    # create, an error and its fix) lost its end there, with nothing saying so.
    make_repo(repo, fixed_answers(), files_done=True)
    jobs = [f"client job number {n}" for n in range(40)]
    status = "to create: " + ", ".join(jobs)

    async def scenario(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        assert "ctrl+o" not in shown(pilot)  # the files plan's status fits
        preview.say(status)
        await pilot.pause()
        assert jobs[-1] not in shown(pilot) and "ctrl+o" in shown(pilot)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MessageScreen)
        assert jobs[-1] in " ".join(shown(pilot).split())
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.screen is preview
        await pilot.click("#preview-more")  # a click reads it too
        await pilot.pause()
        assert isinstance(pilot.app.screen, MessageScreen)

    drive(repo, scenario)


def test_long_field_help_is_shown_in_full(drive, repo: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "database")
        field(pilot, "database.tunnel").focus()
        await pilot.pause()
        text = " ".join(shown(pilot).split())
        help_text = " ".join(BY_KEY["database.tunnel"].help.split())
        assert help_text.rsplit(" ", 1)[-1] in text

    drive(repo, scenario, initial="files")


def test_an_example_too_long_for_its_field_shows_cut_with_an_ellipsis(drive, repo: Path) -> None:
    # Textual wraps a placeholder at its spaces and shows the first line: an example longer
    # than its field showed as a bare "e.g.".
    example = str(BY_KEY["edxapp.grades_bucket_user_arn"].example)

    async def scenario(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "terraform")
        arn = field(pilot, "edxapp.grades_bucket_user_arn")
        assert not arn.value and arn.size.width < len(f"e.g. {example}")  # it cannot fit
        line = "".join(segment.text for segment in arn.render_line(0)).rstrip()
        assert line.startswith("e.g. arn:aws:iam::") and line.endswith("…"), line
        assert arn.placeholder == f"e.g. {example}"  # the whole example is kept

    drive(repo, scenario, initial="files")


# --- issue 13 item 8: keys that do nothing here say what to do --------------------------------


def test_ctrl_s_and_escape_on_a_form_say_what_to_do(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "ctrl+p" in form_message(pilot) and "Write" in form_message(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert "f2" in form_message(pilot)
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, scenario, initial="files")


def test_answers_are_untouched_by_a_mere_visit(drive, repo: Path) -> None:
    make_repo(repo, complete_answers())
    before = (repo / ".wizard" / "answers.yml").read_text()

    async def scenario(pilot: Pilot[None]) -> None:
        for step in ("prereqs", "terraform", "database", "files"):
            await choose_step(pilot, step)

    drive(repo, scenario, initial="files")
    assert (repo / ".wizard" / "answers.yml").read_text() == before


# --- issue 13 item 8: a chosen radio button shows without colour (TERM=vt100) ---------------


def test_the_chosen_conflict_answer_shows_without_colour(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    hand_edit(repo, "EDXAPP_CONTACT_EMAIL", "admin@acme.test")
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        preview = await open_preview(pilot)
        (choice,) = preview.query(ConflictChoice)
        buttons = {b.name: b for b in choice.query(RadioButton)}
        seen["before keep"] = buttons["keep"].render().plain
        seen["before overwrite"] = buttons["overwrite"].render().plain
        buttons["keep"].value = True
        seen["keep"] = buttons["keep"].render().plain
        seen["overwrite"] = buttons["overwrite"].render().plain

    drive(repo, scenario, initial="files")
    # The glyphs alone (no colour, no style) tell the chosen answer from the other.
    assert seen["keep"] != seen["before keep"]
    assert seen["keep"].replace("keep my value", "") != seen["overwrite"].replace("overwrite", "")


# --- issue 13 item 8: drafts (the SIGHUP path itself is in test_tui_terminal.py) -------------


def test_a_secret_is_never_kept_as_a_draft(repo: Path) -> None:
    with Session.open(repo, write=True, command="test") as session:
        assert not drafts.keep(session, Draft("database", "database.admin_password", "half-a-pw"))
        assert not drafts.path(session).exists()
        assert drafts.keep(session, Draft("prereqs", "aws.profile", "globex-o"))
        assert drafts.path(session).stat().st_mode & 0o777 == 0o600
        assert drafts.take(session) == Draft("prereqs", "aws.profile", "globex-o")
        assert not drafts.path(session).exists() and drafts.take(session) is None


def test_a_long_question_in_a_dialog_scrolls_to_its_last_line(drive, repo: Path) -> None:
    lines = [f"line {n}: the host key of the director changed" for n in range(1, 41)]

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(ConfirmDialog("\n".join(lines), yes="Trust"))
        await pilot.pause()
        assert "line 1:" in shown(pilot)  # it starts on screen
        assert "Trust (y)" in shown(pilot)  # the buttons stay on screen
        await pilot.press("pagedown", "pagedown", "pagedown")  # the focus stays on a button
        await pilot.pause()
        assert "line 40:" in shown(pilot) and "Trust (y)" in shown(pilot)
        await pilot.press("shift+tab", "shift+tab", "home")  # or focus the question itself
        await pilot.pause()
        assert "line 1:" in shown(pilot)

    drive(repo, scenario, initial="files")
