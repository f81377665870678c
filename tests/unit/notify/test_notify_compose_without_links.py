"""A message composed without ``[notify] base_url``: no links, the summary named instead."""

from __future__ import annotations

from perfsheriff.notify import Change, CulpritCommit, Evidence, compose


def test_without_a_base_url_the_message_has_no_links() -> None:
    culprit = CulpritCommit("c" * 40, "Ada Lovelace", "ada@example.org", "Speed up", 0.97, parent="b" * 40)
    change = Change("T9872", "x86", "", "regression", 0.1, 0.95, series_id="3fa2")
    message = compose(Evidence(7, "ghc", "master", culprit, "a" * 40, "d" * 40, (change,)), base_url=None)
    assert "](" not in message.markdown
    assert "| T9872 | x86 | - | +10.0% regression | 95% |" in message.markdown
    assert "The full summary is #7 in perfsheriff." in message.markdown
    assert "The full summary is #7 in perfsheriff." in message.text
    assert "http" not in message.text
    assert message.fields["graph_url"] is None
    assert message.fields["changes"][0]["graph_url"] is None
