"""A page with nothing to show yet says what to do next, and only what this account can do."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from re import sub

import pytest
from fastapi.testclient import TestClient

# page -> (what the operator is told, what the viewer is told)
NEXT = {
    "/hosts": ("add one below", "an operator or administrator adds hosts here"),
    "/profiles": ("and save them as one", "an operator or administrator saves them as a profile"),
    "/runs": ("plan or deploy a profile from a host's page", "an operator plans and deploys"),
}


def _text(html: str) -> str:
    return " ".join(unescape(sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("path", NEXT)
def test_an_empty_page_says_what_this_account_can_do_next(signed_in: Callable[[str], TestClient], path: str) -> None:
    for name, told, not_told in (("otto", *NEXT[path]), ("vic", *reversed(NEXT[path]))):
        page = _text(signed_in(name).get(path).text)
        assert told in page and not_told not in page, f"{name} {path}: {page}"


def test_the_empty_board_points_to_the_proposal_form_only_for_who_may_propose(
    signed_in: Callable[[str], TestClient],
) -> None:
    assert "Propose an application" in _text(signed_in("otto").get("/").text)  # a working group member
    admin = _text(signed_in("ada").get("/").text)  # who runs the site, not its reviews
    assert "No application is proposed yet" in admin and "A maintainer or a working group member proposes" in admin
