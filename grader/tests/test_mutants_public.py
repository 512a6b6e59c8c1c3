"""A clearly wrong function fails at least one *public* test of its exercise: every hand-written
mutant in grader/mutants/<section>/ (but those that call a forbidden shortcut, which score 0 by
that rule) is run against the public suite only, so that a student who runs ``pytest`` learns
that the function is wrong before the official grade says so.

In-process and not sandboxed (the mutants are the course's own code): the public tests of the
mutant's exercise are run through the notebooks' test runner (``grader.notebooks.run_case``,
the same fixtures and parametrisations as pytest), one target loaded per mutant: about 10 s of CPU
for every mutant, so it is part of the default tests. The mutants the public tests let through
today are listed below, split by what the hidden suite catches them with."""

from __future__ import annotations

import pytest
from helpers import mutant_breaks

from grader.notebooks import collect_cases, run_case
from grader.sections import MUTANTS, Section
from grader.targets import load_target

MUTANT_FILES = sorted(p for p in MUTANTS.glob("sec*/*.py") if not p.name.startswith("_"))
CHECKED = [p for p in MUTANT_FILES if not mutant_breaks(p)[1]]

# The mutants that pass every public test of their exercise today (the report of this check; the
# second test keeps the lists exact: a mutant a new public test catches must leave them).
# fail a core test of the hidden suite: each wants a public test that it fails (none today)
CLEARLY_WRONG_NOT_CAUGHT: set[str] = set()
EDGE_CASES_NOT_CAUGHT = {
    # fail only the hidden edge-case (needs_core) tests: dtype, validation, ties, padding
    "sec37_rnn/bidirectional_h_n_from_out",
    "sec37_rnn/generate_n_new_not_type_checked",
    "sec37_rnn/generate_numpy_ints",
    "sec37_rnn/generate_reuses_seed",
    "sec37_rnn/greedy_last_on_ties",
    "sec37_rnn/greedy_max_len_not_type_checked",
    "sec37_rnn/h_last_from_hs",
    "sec37_rnn/pad_casts_float_ids",
    "sec37_rnn/pad_max_len_not_type_checked",
    "sec37_rnn/patches_accepts_bool_patch",
    "sec37_rnn/patches_accepts_float_patch",
    "sec37_rnn/rnn_step_no_shape_checks",
    "sec37_rnn/stacked_layers_checked_one_way",
    "sec37_rnn/top_k_not_type_checked",
    "sec37_rnn/vector_float32",
    "sec38_attention/additive_masked_minus_inf",
    "sec38_attention/additive_naive_exp",
    "sec38_attention/attention_greedy_last_on_ties",
    "sec38_attention/bag_of_words_negative_ids",
    "sec38_attention/beam_ties_to_higher_ids",
    "sec38_attention/luong_fully_masked_uniform",
    "sec38_attention/luong_no_size_checks",
    "sec38_attention/memory_mask_by_large_negative",
    "sec38_attention/memory_naive_exp",
    "sec39_attention_math/mask_applied_after_softmax",
    "sec39_attention_math/nan_on_fully_masked_row",
    "sec39_attention_math/project_qkv_no_checks",
    "sec39_attention_math/residual_nan_on_fully_masked_token",
    "sec39_attention_math/reversal_additive_mask",
    "sec39_attention_math/reversal_detached",
    "sec39_attention_math/scores_vague_error_message",
    "sec39_attention_math/softmax_max_over_masked_entries",
    "sec39_attention_math/softmax_zeros_like_input",
    "sec40_transformer/block_params_key_error",
    "sec40_transformer/ffn_bias_shapes_unchecked",
    "sec40_transformer/layer_norm_no_shape_checks",
    "sec40_transformer/merge_heads_four_dims_only",
    "sec40_transformer/mha_no_x_kv_batch_check",
    "sec40_transformer/pe_no_checks",
    "sec40_transformer/sdpa_accepts_float_mask",
    "sec40_transformer/sdpa_additive_mask",
    "sec40_transformer/sdpa_nan_on_fully_masked_row",
    "sec40_transformer/split_heads_three_dims_only",
    "sec41_bert/mask_keeps_ids_dtype",
    "sec41_bert/mask_random_id_never_original",
    "sec41_bert/mask_random_ids_from_id_range",
    "sec41_bert/mlm_accepts_negative_labels",
    "sec41_bert/mlm_zero_outside_the_graph",
    "sec41_bert/nsp_logits_checks_only_the_classifier",
    "sec41_bert/nsp_negative_same_position",
    "sec41_bert/nsp_negative_uniform_over_sentences",
    "sec42_gpt/attention_checks_only_W_qkv",
    "sec42_gpt/attention_mask_minus_1e9",
    "sec42_gpt/balance_unchecked_negative_indices",
    "sec42_gpt/causal_mask_accepts_floats",
    "sec42_gpt/forward_wraps_negative_ids",
    "sec42_gpt/gate_refuses_k_equal_E",
    "sec42_gpt/gate_unstable_softmax",
    "sec42_gpt/layer_accepts_extra_experts",
    "sec42_gpt/top_p_cuts_ties",
    "sec42_gpt/top_p_strict_boundary",
    "sec42_gpt/top_p_unstable_exp",
}


def public_failures(path) -> tuple[int, list[str]]:
    """(public tests of the mutant's exercise, names of those that fail on the mutant)."""
    section = Section(path.parent.name)
    breaks, _ = mutant_breaks(path)
    cases = collect_cases(section, breaks, "public")
    module = load_target(f"mutant:{section.name}/{path.stem}", section)
    fixtures = {section.module: module, f"{section.module}_ref": lambda: None, "seed": 0}
    cache: dict = {}
    return len(cases), [case.name for case in cases if not run_case(case, fixtures, cache)[0]]


def _key(path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", CHECKED, ids=_key)
def test_mutant_fails_a_public_test_of_its_exercise(path):
    """Oracle: the mutant's docstring says how it is wrong; the public tests must notice."""
    total, failed = public_failures(path)
    breaks = mutant_breaks(path)[0]
    assert total, f"{path.name}: {breaks} has no public test"
    if _key(path) in CLEARLY_WRONG_NOT_CAUGHT | EDGE_CASES_NOT_CAUGHT:
        assert not failed, f"{_key(path)} now fails {failed}: remove it from the lists of this file"
    else:
        assert failed, f"{_key(path)} passes all {total} public tests of {breaks}: add a public test that it fails"


def test_the_lists_name_existing_mutants():
    known = {_key(p) for p in CHECKED}
    assert not (CLEARLY_WRONG_NOT_CAUGHT | EDGE_CASES_NOT_CAUGHT) - known
    assert not CLEARLY_WRONG_NOT_CAUGHT & EDGE_CASES_NOT_CAUGHT
