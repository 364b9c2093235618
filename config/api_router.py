"""The /api/v1/ router. Each app registers its viewsets in its own `api_routes.register(router)`.

A path without its trailing slash is served as the path with it (core.middleware.ApiTrailingSlashMiddleware).
"""

from importlib import import_module

from django.urls import NoReverseMatch, get_resolver
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView, DefaultRouter

API_APPS = ["accounts", "contacts", "properties", "integrations", "crm_sync", "webhooks"]


class ApiRoot(APIRootView):
    """The API's entry point: a link to every resource and to every sync endpoint.

    Paths that need an id or a CRM kind are listed as templates (`{contact_id}`, `{crm}`).
    """

    extra_routes: dict[str, str] = {}

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        links = dict(response.data)
        for key, name in self.extra_routes.items():
            try:
                links[key] = reverse(name, request=request)
            except NoReverseMatch:
                links[key] = request.build_absolute_uri("/") + _template(name)
            if not links[key].endswith("/") and not name.startswith("property-"):
                links[key] += "/"  # the /? routes reverse without it; list the canonical form
        return Response(links)


def _template(name: str) -> str:
    """A named route's path with its arguments as `{placeholders}`, e.g. records/{record_id}/."""
    possibilities = get_resolver().reverse_dict.getlist(name)[0][0]
    format_string, params = possibilities[0]
    return format_string % {param: "{" + param + "}" for param in params}


class ApiRouter(DefaultRouter):
    APIRootView = ApiRoot

    def __init__(self):
        super().__init__()
        self.extra_routes: dict[str, str] = {}

    def get_api_root_view(self, api_urls=None):
        list_name = self.routes[0].name
        api_root_dict = {prefix: list_name.format(basename=basename) for prefix, _, basename in self.registry}
        return self.APIRootView.as_view(api_root_dict=api_root_dict, extra_routes=self.extra_routes)


# No ".json" suffix routes: the viewsets take no `format` argument (it was a 500), and the Accept
# header or ?format= choose the renderer.
router = ApiRouter()
router.include_format_suffixes = False
extra_urlpatterns = []
for app_label in API_APPS:
    routes = import_module(f"{app_label}.api_routes")
    routes.register(router)
    for pattern in getattr(routes, "urlpatterns", []):
        extra_urlpatterns.append(pattern)
        router.extra_routes[pattern.name] = pattern.name

urlpatterns = extra_urlpatterns + router.urls
