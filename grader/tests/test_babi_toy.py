"""The bAbI-like toy of §38 (solutions/sec38_attention/babi_toy.py, released to students as is):
the stories are what they claim to be, a one-hop memory network learns them (accuracy >= 0.95)
with its attention on the supporting sentence, and the trained weights plug into the reference
``memnet_answer``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from grader.sections import EXERCISES, SOLUTIONS
from grader.targets import load_module_file

TOY = SOLUTIONS / "sec38_attention" / "babi_toy.py"


@pytest.fixture(scope="module")
def toy():
    return load_module_file(TOY, "babi_toy")


@pytest.fixture(scope="module")
def trained(toy):
    start = time.perf_counter()
    result = toy.train_memnet(seed=0)
    result["wall"] = time.perf_counter() - start
    return result


def test_released_unchanged():
    # no solution markers: the student copy is the same file
    text = TOY.read_text(encoding="utf-8")
    assert "### BEGIN SOLUTION" not in text
    released = EXERCISES / "sec38_attention" / "babi_toy.py"
    assert released.read_text(encoding="utf-8") == text


def test_stories_are_seeded_and_consistent(toy):
    a, b = toy.make_stories(200, seed=5), toy.make_stories(200, seed=5)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    story, question = a["story"], a["question"]
    for k in range(200):
        asked, s = question[k, 2], a["support"][k]
        about = [i for i in range(story.shape[1]) if story[k, i, 0] == asked and story[k, i, -1] != 0]  # moves
        assert about and about[-1] == s, "support is the last move of the person asked"
        assert a["answer"][k] == story[k, s, -1], "the answer is the place of the supporting sentence"
        assert toy.decode(question[k]).startswith("where is ")


def test_memnet_learns_the_task(trained):
    print(f"training took {trained['seconds']:.2f} s (wall {trained['wall']:.2f} s)")
    assert trained["accuracy"] >= 0.95, trained["accuracy"]
    # the attention lands on the supporting sentence for most questions
    assert trained["support_hit"] >= 0.9, trained["support_hit"]
    # time is reported above, not asserted tightly: the machine may be shared
    assert trained["seconds"] < 60


def test_trained_weights_plug_into_memnet_answer(toy, trained):
    import torch

    attention = load_module_file(SOLUTIONS / "sec38_attention" / "attention.py", "attention")
    data = toy.make_stories(50, seed=123)
    params = toy.to_numpy_params(trained["model"])
    logits, p = attention.memnet_answer(data["story"], data["question"], params)
    with torch.no_grad():
        t_logits, t_p = trained["model"].double()(torch.from_numpy(data["story"]), torch.from_numpy(data["question"]))
    trained["model"].float()
    np.testing.assert_allclose(p, t_p.numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(logits, t_logits.numpy(), rtol=1e-7, atol=1e-9)
