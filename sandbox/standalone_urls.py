"""URLconf of `manage.py sandbox`: only the sandbox CRMs, at the same /sandbox/ paths."""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("sandbox.urls"))]
