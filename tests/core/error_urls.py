"""A URLconf for error-path tests: the real one plus views that fail on purpose."""

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as real_urlpatterns


class _Echo(serializers.Serializer):
    name = serializers.CharField(max_length=5)


class BrokenView(APIView):
    def get(self, request):
        raise RuntimeError("database password=hunter2 leaked into an exception")


class EchoView(APIView):
    def post(self, request):
        serializer = _Echo(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/_test/broken/", BrokenView.as_view()),
    path("api/v1/_test/echo/", EchoView.as_view()),
    *real_urlpatterns,
]
