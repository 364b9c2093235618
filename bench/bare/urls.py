from django.urls import include, path
from rest_framework.routers import DefaultRouter

from bench.bare.views import ContactViewSet, healthz

router = DefaultRouter()
router.register("contacts", ContactViewSet)

urlpatterns = [path("healthz", healthz), path("api/v1/", include(router.urls))]
