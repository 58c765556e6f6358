"""The command line's exit codes, in one leaf module every layer may import."""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
CONFLICT = 3
LOCKED = 4
STATE = 5
INTERNAL = 70
INTERRUPTED = 130
HUNG_UP = 129  # the wizard's terminal went away (SIGHUP); nobody reads it but demo mode

HELP = f"""exit codes:
  {OK}    success (status: every step is done)
  {FAILED}    a step failed (status: some step is not done)
  {USAGE}    usage error, or answers missing or invalid
  {CONFLICT}    hand-edited values would be overwritten: review, then re-run with --force;
       or a terraform plan destroys/replaces resources: review, then --confirm-destroy
  {LOCKED}    another analytics-wizard holds the secure repo
  {STATE}    the secure repo's state cannot be read (e.g. written by a newer version)
  {INTERNAL}   internal error (details in .wizard/logs/)
  {INTERRUPTED}  interrupted"""
