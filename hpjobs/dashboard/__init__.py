"""The dashboard ``hpjobs serve`` shows at ``/``: training, tuning and customization jobs, a page
per job with live metric charts, its log and hyperparameters, and a Converse playground."""

from hpjobs.dashboard.views import dashboard_routes

__all__ = ["dashboard_routes"]
