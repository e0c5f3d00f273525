"""The member portal's shell: sign-in, choosing a cooperative, the cooperative's home."""

from django.http import HttpResponse


def home(request):
    return HttpResponse("portal")
