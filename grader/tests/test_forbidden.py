"""The forbidden-shortcut check: the static scan reads source only and follows module-level helpers;
the worker's guard (grader/sandbox/guard.py) records shortcuts where they run."""

import json
import subprocess
import sys

import pytest

from grader.forbidden import rules_for, scan_source
from grader.sandbox import guard
from grader.sections import REPO, all_sections

RULES = {"attention": ["scaled_dot_product_attention"], "norm": ["layer_norm", "LayerNorm"]}


def scan(src):
    return scan_source(src, RULES)


def test_direct_attribute_call_is_found():
    assert scan(
        "import torch.nn.functional as F\ndef attention(q):\n    return F.scaled_dot_product_attention(q, q, q)\n"
    ) == {"attention": ["scaled_dot_product_attention"]}


def test_call_through_a_module_level_alias_is_found():
    src = "import torch.nn.functional as F\n_f = F.scaled_dot_product_attention\ndef attention(q):\n    return _f(q, q, q)\n"
    assert "attention" in scan(src)


def test_from_import_and_getattr_string_are_found():
    assert "norm" in scan("from torch.nn.functional import layer_norm as ln\ndef norm(x):\n    return ln(x)\n")
    assert "attention" in scan(
        "import torch\ndef attention(q):\n    return getattr(torch.nn.functional, 'scaled_dot_product_attention')(q)\n"
    )


def test_own_function_of_the_same_name_is_allowed():
    src = "def scaled_dot_product_attention(q):\n    return q\ndef attention(q):\n    return scaled_dot_product_attention(q)\n"
    assert scan(src) == {}


def test_plain_code_passes():
    assert scan("def norm(x):\n    m = x.mean(-1, keepdim=True)\n    return x - m\n") == {}


def test_star_import_counts_as_using_the_names():
    assert "norm" in scan("from torch.nn.functional import *\ndef norm(x):\n    return layer_norm(x, x.shape[-1:])\n")


def test_name_defined_elsewhere_without_star_import_is_not_a_violation():
    # a mutant file runs on top of the reference namespace and may call its helpers by name
    assert scan("def norm(x):\n    return layer_norm(x)\n") == {}


# --- at run time: the worker's guard (grader/sandbox/guard.py) ------------------------------------
# Run in a child process: installing the guard replaces PyTorch functions for the rest of a process.


GUARD_SCRIPT = r"""
import json, sys, torch
from grader.sandbox import guard

class Server:
    sent = []
    def send(self, header, blobs=()):
        self.sent.append(header)
    def call(self, header, blobs):
        result = FUNCS[header["name"]]()
        self.send({"id": header["id"], "result": str(type(result).__name__)})

def serve(name, i):
    server = Server()
    try:
        server.call({"id": i, "name": name}, [])
    except ValueError:
        server.send({"id": i, "error": "ValueError"})
    return server.sent[-1]

RULES = {"attend": ["scaled_dot_product_attention"], "attend_by_hand": ["scaled_dot_product_attention"],
         "attend_then_fail": ["scaled_dot_product_attention"], "norm": ["layer_norm", "LayerNorm"]}
original = torch.nn.functional.scaled_dot_product_attention
guard.install({"forbidden_rules": RULES}, Server)
F = torch.nn.functional
g = torch.Generator().manual_seed(0)
q = torch.randn(1, 2, 3, 4, generator=g)

def fail():
    getattr(F, "scaled_dot_" + "product_attention")(q, q, q)
    raise ValueError("after the shortcut")

FUNCS = {
    "attend": lambda: getattr(F, "scaled_dot_" + "product_attention")(q, q, q),
    "attend_by_hand": lambda: torch.softmax(q @ q.transpose(-2, -1) / 2.0, -1) @ q,
    "attend_then_fail": fail,
    "norm": lambda: torch.nn.LayerNorm(4)(q),
    "given_training_step": lambda: F.scaled_dot_product_attention(q, q, q),
}
replies = {name: serve(name, i) for i, name in enumerate(FUNCS)}
wrapper = torch.nn.functional.scaled_dot_product_attention
print(json.dumps({
    "replies": replies,
    "wrapped": wrapper is not original and torch._C._nn.scaled_dot_product_attention is wrapper,
    "has_wrapped_attribute": hasattr(wrapper, "__wrapped__"),
    "modes_after": torch._C._len_torch_function_stack() + torch._C._len_torch_dispatch_stack(),
    "importable": "guard" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def guarded():
    """What a fake worker with the guard installed sent for each call (oracle: RULES in the script)."""
    proc = subprocess.run([sys.executable, "-c", GUARD_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_guard_records_a_shortcut_reached_by_a_computed_name(guarded):
    assert guarded["replies"]["attend"]["forbidden"] == {"attend": ["scaled_dot_product_attention"]}


def test_guard_records_nothing_for_code_written_by_hand(guarded):
    assert "forbidden" not in guarded["replies"]["attend_by_hand"]


def test_guard_records_a_shortcut_in_a_call_that_then_raises(guarded):
    reply = guarded["replies"]["attend_then_fail"]
    assert reply["error"] == "ValueError" and reply["forbidden"] == {
        "attend_then_fail": ["scaled_dot_product_attention"]
    }


def test_guard_sees_a_module_class_and_the_function_it_calls(guarded):
    assert guarded["replies"]["norm"]["forbidden"] == {"norm": ["LayerNorm", "layer_norm"]}


def test_guard_ignores_code_of_functions_without_a_rule(guarded):
    assert "forbidden" not in guarded["replies"]["given_training_step"]


def test_guard_wrappers_replace_every_alias_and_hide_the_original(guarded):
    assert guarded["wrapped"] and not guarded["has_wrapped_attribute"] and not guarded["importable"]


def test_guard_modes_are_off_between_calls(guarded):
    assert guarded["modes_after"] == 0


def test_aliases_stand_for_their_rule_names():
    table = guard.targets_of(["cross_entropy", "layer_norm"])
    assert table["nll_loss_forward"] == {"cross_entropy"} and table["native_layer_norm"] == {"layer_norm"}
    assert table["layer_norm"] == {"layer_norm"} and "linear" not in table


def test_every_rule_name_is_an_object_the_guard_can_wrap():
    import importlib

    import torch

    spaces = [importlib.import_module(s) if s != "torch._C._nn" else torch._C._nn for s in guard.NAMESPACES]
    missing = [
        (section.name, name)
        for section in all_sections()
        for names in rules_for(section.name).values()
        for name in names
        if not any(name in space.__dict__ for space in spaces)
    ]
    assert not missing, f"rule names the run-time check cannot find in {guard.NAMESPACES}: {missing}"


def test_the_scan_can_run_in_several_threads_at_once():
    """Oracle: the scan's own single-threaded answer. `grade --jobs 2` judges sections in threads;
    without the parse lock CPython 3.11 fails here with "AST constructor recursion depth mismatch"
    (garbage made of reference cycles forces collections in the middle of a parse)."""
    import threading

    source = (REPO / "solutions" / "sec37_rnn" / "rnn.py").read_text(encoding="utf-8")
    rules = rules_for("sec37_rnn") or {"rnn_cell": ["RNNCell"]}
    want = scan_source(source, rules)
    failures = []

    class Cycle:
        def __del__(self):
            pass

    def work():
        for _ in range(60):
            junk = [Cycle() for _ in range(50)]
            for item in junk:
                item.me = item
            try:
                assert scan_source(source, rules) == want
            except (SystemError, AssertionError) as e:
                failures.append(repr(e))
                return

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"the scan failed when run from several threads: {failures[0]}"
