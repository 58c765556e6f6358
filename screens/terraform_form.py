"""The terraform step's form: the values of the wizard's terraform configuration.

f6 on a field AWS can list (key pair, security group, hosted zone, AMI, bucket) offers what the
account has. ctrl+p runs ``terraform plan`` and shows its summary; a plan that destroys or
replaces anything asks for the confirmation word before it is applied; esc stops terraform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from .choices import ChoicesDialog
from .files_form import StepForm

# Answer key -> the name of its lookup in wizard.aws_choices.
CHOOSERS = {
    "terraform.key_pair_name": "key_pairs",
    "terraform.director_security_group_id": "security_groups",
    "terraform.hosted_zone_domain": "hosted_zones",
    "terraform.image_id": "ubuntu_amis",
    "edxapp.grades_bucket": "buckets",
    "edxapp.tracking_logs_bucket": "buckets",
}


class Listed(Message):
    def __init__(self, key: str, choices: list[Any], error: str = "") -> None:
        super().__init__()
        self.key, self.choices, self.error = key, choices, error


class TerraformForm(StepForm):
    STEP = "terraform"
    PREVIEW_LABEL = "Plan  ctrl+p"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f6", "choose", "Choose from AWS")]

    def action_choose(self) -> None:
        focused = self.screen.focused
        row = self.row_of(focused) if isinstance(focused, Input) else None
        if row is None or row.field.key not in CHOOSERS:
            names = ", ".join(self.rows[k].field.label for k in CHOOSERS if k in self.rows)
            self.say(f"f6 lists choices from AWS for: {names}.")
            return
        self.confirm_pending()  # profile, region and endpoint as typed so far
        self.say(f"Asking AWS for {row.field.label.lower()} choices…")
        self.list_choices(row.field.key)

    @work(thread=True, exit_on_error=False, group="aws-choices")
    def list_choices(self, key: str) -> None:
        from wizard import aws_choices
        from wizard.aws import Aws, AwsError, Target

        resolved = self.session.resolved
        try:
            target = Target.from_values(
                {k: resolved.get(k) for k in ("aws.profile", "aws.region", "aws.endpoint_url")}
            )
            lookup: Callable[[Aws], list[Any]] = getattr(aws_choices, CHOOSERS[key])
            choices = lookup(Aws(target))
        except (AwsError, ValueError) as exc:
            self.post_message(Listed(key, [], self.session.redact(str(exc))))
        else:
            self.post_message(Listed(key, choices))

    @on(Listed)
    def listed(self, message: Listed) -> None:
        row = self.rows[message.key]
        if message.error or not message.choices:
            self.say(message.error or f"AWS lists no {row.field.label.lower()} here.")
            return
        self.say("")

        def picked(value: str | None) -> None:
            if value:
                row.input.value = value
                row.show_error()
                self.confirm(row)
                row.input.focus()

        self.app.push_screen(
            ChoicesDialog(f"{row.field.label}: choose one", message.choices), picked
        )
