"""The Jenkins stand-in the tests use is demo mode's (wizard/demo/jenkins_standin.py)."""

from wizard.demo.jenkins_standin import CRUMB_FIELD, VERSION, JenkinsStandin, stored_form

__all__ = ["CRUMB_FIELD", "VERSION", "JenkinsStandin", "stored_form"]
