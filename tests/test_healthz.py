"""The health view: the benchmarks' ceiling and a liveness probe, so it must stay trivial."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_answers_ok_without_a_database_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")


def test_healthz_is_outside_the_language_prefixes():
    # Probes and load tests call one fixed address, whatever the visitor's language.
    assert reverse("healthz") == "/healthz/"
