"""The terraform step's form: the values of the wizard's terraform configuration.

ctrl+p runs ``terraform plan`` and shows its summary; a plan that destroys or replaces anything
asks for the confirmation word before it is applied; esc stops a running terraform.
"""

from __future__ import annotations

from .files_form import StepForm


class TerraformForm(StepForm):
    STEP = "terraform"
    PREVIEW_LABEL = "Plan  ctrl+p"
