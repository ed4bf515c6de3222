"""Whatever is typed, `fossp recommend` answers with 0, 1 or 2 and never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command

from fossp.cli.main import app
from fossp.errors import FosspError
from fossp.selection.vocabulary import load_vocabulary
from tests.conftest import UNUSED_GATE_DB

_VOCABULARY = load_vocabulary()
_WORDS = sorted(
    {
        *_VOCABULARY.stop_words,
        *(phrase for _, terms in _VOCABULARY.owners() for _, phrase in terms.by_kind()),
        *(key for key in _VOCABULARY.features),
    }
)
COMMAND = get_command(app)  # built once: typer builds its click command anew on every invoke
#: Sentences of known words, filler and noise, as well as any text at all.
TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=12)), max_size=12).map(" ".join),
)


@pytest.fixture(autouse=True)
def _hermetic_gate_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{UNUSED_GATE_DB}")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=1, max_size=3), as_json=st.booleans())
def test_any_text_gets_an_answer_or_one_line_never_a_crash(texts: list[str], as_json: bool) -> None:
    args = ["recommend", "--", *texts, *(["--json"] if as_json else [])]
    result = CliRunner().invoke(COMMAND, args)
    error = result.exception
    if isinstance(error, FosspError):
        assert error.exit_code == 2 and "\n" not in error.message
        return
    assert error is None or isinstance(error, SystemExit), repr(error)
    assert result.exit_code in (0, 1, 2), result.output
