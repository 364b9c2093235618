"""Sandbox CRMs mounted at /sandbox/<kind>/ when SANDBOX_ENABLED."""

urlpatterns: list = []
