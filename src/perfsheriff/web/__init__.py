"""The dashboard: HTML pages over the service layer's read views, served by ``perfsheriff serve`` at ``/``."""
