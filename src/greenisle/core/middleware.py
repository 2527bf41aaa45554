"""Refuse NUL characters in the URL, query string and form fields with a 400 naming the field.

PostgreSQL cannot store NUL in text; without this guard such input reaches a query and fails
there as a server error instead of a clear refusal.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = None
        if "\x00" in request.path:
            field = "path"
        else:
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    field = key.replace("\x00", "")
                    break
            else:
                content_type = request.content_type or ""
                if request.method == "POST" and content_type.startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")
                ):
                    for key, values in request.POST.lists():
                        if "\x00" in key or any("\x00" in v for v in values):
                            field = key.replace("\x00", "")
                            break
        if field is not None:
            return JsonResponse(
                {
                    "detail": f"{field}: 不允许包含NUL字符 / must not contain NUL characters",
                    "field": field,
                    "code": "invalid",
                },
                status=400,
            )
        return self.get_response(request)
