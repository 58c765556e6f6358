"""The prerequisites step's form: what the checks look at. ctrl+p runs the checks."""

from __future__ import annotations

from .files_form import StepForm


class PrereqsForm(StepForm):
    STEP = "prereqs"
    PREVIEW_LABEL = "Run checks  ctrl+p"
