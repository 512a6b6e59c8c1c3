"""A message from a worker is withheld when it quotes a line of the hidden tests or the solutions
(``grader.sandbox.pool.withhold_secrets``). Oracle: the plain definition, "some secret line is a
substring of the text" (``any(line in text for line in _secret_lines())``)."""

from __future__ import annotations

import random

import pytest

from grader.sandbox.pool import SECRET_MIN, WITHHELD, _secret_lines, withhold_secrets


def plainly_withheld(text: str) -> bool:
    return any(line in text for line in _secret_lines())


@pytest.fixture(scope="module")
def secret():
    lines = _secret_lines()
    assert lines, "no secret line found: are grader/hidden and solutions/ there?"
    return random.Random(0).choice(lines)


@pytest.mark.parametrize("where", ["start", "middle", "end", "alone"])
def test_a_quoted_secret_line_is_withheld_wherever_it_stands(secret, where):
    text = {"start": secret + " was the line", "middle": "ValueError: " + secret + " (line 3)",
            "end": "it said: " + secret, "alone": secret}[where]  # fmt: skip
    assert withhold_secrets(text) == WITHHELD, f"a secret line at the {where} of the message got through"


def test_a_message_without_secret_lines_is_kept():
    text = "ValueError: x should have 2 dimensions, got 3 (shape (2, 3, 4))"
    assert not plainly_withheld(text)
    assert withhold_secrets(text) == text


def test_a_text_shorter_than_any_secret_line_is_kept():
    text = "x" * (SECRET_MIN - 1)
    assert withhold_secrets(text) == text


def test_the_same_verdict_as_the_plain_definition_on_pieces_of_the_grader_files(secret):
    # pieces of secret lines (most too short or cut), secret lines with one character changed and
    # whole ones, in random surroundings: the fast lookup and the plain search agree on each
    rng = random.Random(1)
    lines = _secret_lines()
    for _ in range(300):
        line = rng.choice(lines)
        start = rng.randrange(len(line))
        piece = line[start : start + rng.randrange(1, len(line) + 1)]
        if rng.random() < 0.3:
            i = rng.randrange(len(piece))
            piece = piece[:i] + "\u00a7" + piece[i + 1 :]
        text = "".join(rng.choice("ab ()\n") for _ in range(rng.randrange(40))) + piece + " tail"
        assert (withhold_secrets(text) == WITHHELD) == plainly_withheld(text), f"disagree on {text!r}"


def test_the_shortest_secret_line_is_seen_at_the_very_end(monkeypatch):
    # a line of exactly SECRET_MIN characters that ends the text starts at the last place looked at
    from grader.sandbox import pool

    line = "q" * (SECRET_MIN - 2) + "()"
    monkeypatch.setattr(pool, "_SECRET_LINES", [line])
    monkeypatch.setattr(pool, "_SECRET_INDEX", None)
    assert withhold_secrets("the message ends with " + line) == WITHHELD
    assert withhold_secrets("the message ends with " + line[:-1]) != WITHHELD
