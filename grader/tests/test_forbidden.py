"""The forbidden-shortcut check reads source only and follows module-level helpers."""

from grader.forbidden import scan_source

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
