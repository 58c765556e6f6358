"""Step switches only show what is already built (issue 13 item 15).

Driven by Pilot on a real secure repo at 80x24: the forms of steps not visited yet are built
while the wizard is idle, hidden, and the footer is rebuilt once however many changes ask.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from snapshot_apps.repos import choose_step, fixed_answers, make_repo, open_app, settle
from test_tui import drive, field, selected_form
from textual import events
from textual.app import ComposeResult
from textual.pilot import Pilot
from textual.widgets import ContentSwitcher
from textual.widgets._footer import FooterKey

from screens.field_row import as_text
from screens.footer import KeysFooter, shown_keys
from screens.main import MainScreen
from screens.step_form import StepForm, form_keys
from wizard.steps import NAMES

__all__ = ["drive"]  # the fixture, shared with test_tui


def built(screen: MainScreen) -> dict[str, int]:
    """Each form there: how many of its fields are mounted."""
    return {form.step.name: len(form.rows) for form in screen.query(StepForm)}


async def every_form_built(pilot: Pilot[None]) -> None:
    """Wait (bounded) until every step's form holds all its fields."""
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    for _ in range(600):
        forms = {form.step.name: form for form in screen.query(StepForm)}
        if set(forms) == set(NAMES) and all(f.fields_mounted for f in forms.values()):
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not every form was built while idle: {built(screen)}")


def test_forms_of_steps_not_visited_are_built_while_idle_and_stay_hidden(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        first = pilot.app.focused
        await every_form_built(pilot)
        # Built behind the shown form: it is still the only one shown, and focus stayed.
        assert [form.id for form in screen.query(StepForm) if form.display] == ["files"]
        assert pilot.app.focused is first
        answers = screen.session.answers.values
        for form in screen.query(StepForm):
            assert set(form.rows) == set(form_keys(form.step)), form.step.name
            for key, row in form.rows.items():
                assert row.input.value == as_text(answers.get(key)), key
        # A switch shows the form built ahead: the very same fields, now on screen.
        profile = screen.query_one("#terraform", StepForm).rows["aws.profile"].input
        # Laid out while hidden, at the size it has once shown: showing it lays out once.
        await settle(pilot)
        size = profile.outer_size  # as the last layout left it
        await choose_step(pilot, "terraform")
        assert selected_form(pilot).step.name == "terraform"
        assert field(pilot, "aws.profile") is profile and profile.region.height == 1
        assert size.width > 0 and profile.outer_size == size == profile.region.size

    drive(repo, scenario, initial="files")


def test_a_form_left_before_it_filled_in_is_finished_while_idle(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        # The files form is long: down comes while its fields are still being mounted.
        await pilot.press("f2", "down")
        await every_form_built(pilot)
        await settle(pilot)
        assert selected_form(pilot).step.name == "playbooks"
        files = pilot.app.screen.query_one("#files", StepForm)
        assert not files.display and set(files.rows) == set(form_keys(files.step))

    drive(repo, scenario, initial="files")


def test_a_form_held_while_another_step_was_highlighted_fills_in_when_it_comes_back(
    repo: Path,
) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    app = open_app(repo, "files")

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = pilot.app.screen
            assert isinstance(screen, MainScreen)
            files = screen.query_one("#files", StepForm)
            assert not files.fields_mounted, "the keys are to come as the first form fills in"
            # Another step highlighted holds the filling of the long files form (down does
            # until that step is shown): its next batch adds no rows and it stops filling.
            # Called here directly: the wizard's own highlight events may come in between.
            files.held = True
            count = len(files.rows)
            await files.mount_batch()
            assert len(files.rows) == count and not files.filling and not files.fields_mounted
            # The highlight came back to it before the switch: it fills in whole.
            screen.show_highlighted()
            for _ in range(200):
                if files.fields_mounted:
                    break
                await pilot.pause(0.05)
            await settle(pilot)
            assert selected_form(pilot) is files and files.display
            assert set(files.rows) == set(form_keys(files.step))
            assert not files.held

    try:
        asyncio.run(scenario())
    finally:
        app.session.close()


def test_the_footer_is_rebuilt_once_for_changes_that_come_faster_than_a_rebuild(
    drive, repo: Path, monkeypatch
) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    rebuilds = []
    compose = KeysFooter.compose

    def counted(footer: KeysFooter) -> ComposeResult:
        rebuilds.append(shown_keys(footer.screen))
        return compose(footer)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        footer = screen.query_one(KeysFooter)
        assert "f7" in {key.key for key in footer.query(FooterKey)}  # terraform's own action
        monkeypatch.setattr(KeysFooter, "compose", counted)
        # f2, then two steps switched before the footer had its turn: as at start-up.
        screen.action_focus_steps()
        screen.show_step("database")
        screen.show_step("prereqs")
        await settle(pilot)
        await pilot.pause(0.2)
        assert len(rebuilds) == 1
        keys = {key.key for key in footer.query(FooterKey)}
        assert "f2" in keys and "f7" not in keys

    drive(repo, scenario, initial="terraform")


def test_f2_pressed_as_the_first_form_fills_in_leaves_focus_on_the_step_list(
    drive, repo: Path
) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        # As right after start-up: nothing focused yet, the form's last fields just mounted
        # and f2 already pressed (its key waits in the queue behind the form's news).
        screen.set_focus(None)
        pilot.app.post_message(events.Key("f2", None))
        screen.on_step_form_ready(StepForm.Ready(screen.query_one("#files", StepForm)))
        await settle(pilot)
        assert pilot.app.focused is screen.query_one("#steps")

    drive(repo, scenario, initial="files")


def test_a_form_built_ahead_as_the_wizard_closes_is_no_error(drive, repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        # As build_ahead does when the quit comes in the same moment.
        form = screen.new_form("report")
        form.display = False
        screen.query_one(ContentSwitcher).mount(form)
        pilot.app.exit()

    drive(repo, scenario, initial="files")
