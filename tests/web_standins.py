"""The Insights and Analytics API stand-ins are demo mode's (wizard/demo/web_standins.py)."""

from wizard.demo.web_standins import LMS, Site, analytics_api, insights

__all__ = ["LMS", "Site", "analytics_api", "insights"]
