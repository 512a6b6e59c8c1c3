"""The grader's words to students, in Japanese (default) and English: one catalogue, both languages.

Japanese messages keep the technical terms in English in parentheses — ``形 (shape)`` — so that a
student can look a term up in NumPy's or PyTorch's documentation. The language is ``--lang`` of the
command line (which sets ``$COURSE_LANG`` for the test processes it starts), else ``$LC_ALL`` or
``$LANG`` when they start with ``en``, else Japanese. Messages written inside a test file are the
test's own and are not translated.

    >>> t("row.total", lang="en")
    'total'
"""

from __future__ import annotations

import os

LANG_ENV = "COURSE_LANG"
LANGUAGES = ("ja", "en")

CATALOGUE: dict[str, dict[str, str]] = {
    # --- the grade table and every report's headings -----------------------------------------
    "table.title": {"ja": "採点結果 (grade): {target}", "en": "Grade for {target}"},
    "col.section": {"ja": "節 (section)", "en": "section"},
    "col.exercise": {"ja": "課題 (exercise)", "en": "exercise"},
    "col.points": {"ja": "点 (points)", "en": "points"},
    "col.public_points": {"ja": "公開テストの点 / 配点 (public / budget)", "en": "public points / budget"},
    "col.passed": {"ja": "合格したテスト (tests passed)", "en": "tests passed"},
    "row.section_total": {"ja": "{section} 合計 (total)", "en": "{section} total"},
    "row.total": {"ja": "合計 (total)", "en": "total"},
    "cell.bonus": {"ja": "ボーナス (bonus, 0 点)", "en": "bonus (0 points)"},
    "cell.public_of": {"ja": "{score}/{max} (配点 {budget})", "en": "{score}/{max} of {budget}"},
    "md.grade": {"ja": "## 採点結果 (grade): {score} / {max}", "en": "## Grade: {score} / {max}"},
    "md.grade_public": {
        "ja": "## 公開テストの採点結果 (public tests): {score} / {max}(配点 (budget) {budget} 点のうち)",
        "en": "## Grade of the public tests: {score} / {max} of the official {budget}",
    },
    "md.problems": {"ja": "### 問題 (problems)", "en": "### Problems"},
    "md.failures": {"ja": "不合格のテストと理由 (what failed and why)", "en": "What failed and why"},
    "md.more": {"ja": "… ほか {n} 件 (more)", "en": "… and {n} more"},
    "summary.public_only": {
        "ja": "公開テスト (public tests) だけの点です: {score} / {max} 点 (配点 (budget) {budget} 点のうち)。"
        "残りの {rest} 点は非公開テスト (hidden tests) が採点します。",
        "en": "Public tests only: {score} / {max} points of the official budget {budget}; "
        "the hidden tests grade the remaining {rest}.",
    },
    "points_line.public": {
        "ja": "Points {score}/{max} (公開テストのみ (public tests only)、配点 (budget) {budget})",
        "en": "Points {score}/{max} (public tests only, of the official {budget})",
    },
    "summary.gated": {
        "ja": "  … {n} 件の追加テストは基本テストがすべて通ってから加点 "
        "({n} edge-case tests passed; they count once the core tests of {exercise} pass)",
        "en": "  … {n} edge-case tests passed; they count once the core tests of {exercise} pass",
    },
    "summary.tampered": {
        "ja": "保護されたファイル (protected files) が変更されていました (無視し、コースの元のファイルで採点しました):",
        "en": "Protected files changed (ignored; graded with the course's own copies):",
    },
    "md.tampered": {"ja": "### 変更された保護ファイル (protected files changed)", "en": "### Protected files changed"},
    "md.tampered_note": {
        "ja": "コースの元のファイルで採点しました。次の変更は無視されました:",
        "en": "Graded with the course's own copies; these changes were ignored:",
    },
    "summary.no_sandbox": {
        "ja": "サンドボックス (sandbox) なしで採点しました (信頼できるコードのみ)。",
        "en": "Graded without the sandbox (trusted code only).",
    },
    "tag.hidden": {"ja": " (非公開 (hidden))", "en": " (hidden)"},
    # --- the grader's messages on a test --------------------------------------------------------
    "not_implemented": {
        "ja": "{name}: まだ実装されていません (not implemented yet) — {file} の `raise NotImplementedError` "
        "をあなたのコードに置き換えてください",
        "en": "{name}: not implemented yet (replace the `raise NotImplementedError` in {file})",
    },
    "not_run": {
        "ja": "実行されず (not run): テストの実行がこのテストの前に止まりました",
        "en": "not run: the test run stopped before this test",
    },
    "time_budget": {
        "ja": "実行されず (not run): この節の時間予算を使い切りました (time budget used up)",
        "en": "not run: time budget used up",
    },
    "gate": {
        "ja": "基本テストがすべて通ってから加点 (counts once the core tests of {exercise} pass)",
        "en": "counts once the core tests of {exercise} pass",
    },
    "forbidden": {
        "ja": "{names} を使っています。この課題で自分で書くライブラリの近道 (library shortcut) です: "
        "この課題は 0 点です (モジュールの docstring を参照)",
        "en": "uses {names}, the library shortcut this exercise asks you to write yourself: "
        "the exercise scores 0 (see the module docstring)",
    },
    "quiet.student_line": {"ja": "あなたのコードの行 (your line)", "en": "your line"},
    # --- grader/checks.py -----------------------------------------------------------------------
    "check.ndarray": {
        "ja": "{what} は numpy.ndarray であるべきですが、{got} が返されました",
        "en": "{what} should be a numpy.ndarray, got {got}",
    },
    "check.tensor": {
        "ja": "{what} は torch.Tensor であるべきですが、{got} が返されました",
        "en": "{what} should be a torch.Tensor, got {got}",
    },
    "check.array_with_shape": {
        "ja": "{what} は形 (shape) {shape} の配列であるべきですが、{got} が返されました",
        "en": "{what} should be an array with shape {shape}, got {got}",
    },
    "check.shape": {
        "ja": "{what} の形 (shape) が {got} です。期待される形 (expected) は {shape}",
        "en": "{what} has shape {got}, expected {shape}",
    },
    "check.shape_hidden": {
        "ja": "{what} の形 (shape) が違います。期待される形 (expected) は {shape}",
        "en": "{what} has the wrong shape: expected {shape}",
    },
    "check.array": {
        "ja": "{what} は配列 (array) であるべきですが、{got} が返されました",
        "en": "{what} should be an array, got {got}",
    },
    "check.dtype": {
        "ja": "{what} の型 (dtype) が {got} です。期待される型 (expected) は {want}",
        "en": "{what} has dtype {got}, expected {want}",
    },
    "check.finite": {
        "ja": "{what} に有限でない値 (non-finite values) が {n} 個あります (最初: 位置 (index) {where} の {kind})",
        "en": "{what} contains {n} non-finite values (first: {kind} at index {where})",
    },
    "check.finite_hidden": {
        "ja": "{what} に有限でない値 (non-finite values: NaN または inf) があります",
        "en": "{what} contains non-finite values (NaN or inf)",
    },
    "check.objects": {
        "ja": "{what} は数値 (numbers) であるべきですが、オブジェクト (objects) が返されました",
        "en": "{what} should hold numbers, got objects",
    },
    "check.close": {
        "ja": "{what}: {size} 個中 {n} 個の値が期待値と違います (values differ; 最初は位置 (index) {where}",
        "en": "{what}: {n} of {size} values differ from the expected ones (first at index {where}",
    },
    "check.close_values": {"ja": ": 結果 (got) {got}、期待値 (expected) {want}", "en": ": got {got}, expected {want}"},
    "check.close_nonfinite": {
        "ja": "; 有限であるべき値が有限でないか、±inf/NaN であるべき値がそうでありません",
        "en": "; a value that should be finite is not, or one that should be ±inf/NaN is not",
    },
    "check.close_tail": {
        "ja": "; 最大誤差 (largest error) {worst}、許容誤差 (tolerance) atol={atol} rtol={rtol})",
        "en": "; largest error {worst}, tolerance atol={atol} rtol={rtol})",
    },
    "check.close_hidden": {
        "ja": "{what}: 値が期待値と違います (values differ; 最大誤差 (largest error) {worst}、"
        "許容誤差 (tolerance) atol={atol} rtol={rtol})",
        "en": "{what}: values differ from the expected ones (largest error {worst}, tolerance atol={atol} rtol={rtol})",
    },
    "check.magnitude": {"ja": "約 1e{exp}", "en": "about 1e{exp}"},
    "check.not_finite": {"ja": "有限でない (not finite)", "en": "not finite"},
    "check.other_type": {"ja": "別の型のオブジェクト (another type)", "en": "an object of another type"},
    "check.other_dtype": {"ja": "別の dtype (another dtype)", "en": "another dtype"},
    "check.int": {
        "ja": "{what} は int であるべきですが、{got} が返されました",
        "en": "{what} should be an int, got {got}",
    },
    "check.type": {
        "ja": "{what} は {want} であるべきですが、{got} が返されました",
        "en": "{what} should be a {want}, got {got}",
    },
    "check.value": {
        "ja": "{what} が期待される値 (expected value) ではありません",
        "en": "{what} is not the expected value",
    },
    "check.entries": {
        "ja": "{what}: {size} 個中 {n} 個の要素 (entries) が違います (最初は位置 (index) {where})",
        "en": "{what}: {n} of {size} entries differ (first at index {where})",
    },
    "check.entries_hidden": {
        "ja": "{what}: 要素 (entries) が期待値と違います",
        "en": "{what}: entries differ from the expected ones",
    },
    "check.unchanged": {
        "ja": "{what} がその場で変更 (modified in place) されました。コピーに対して計算してください "
        "(例: x -= m ではなく x = x - m)",
        "en": "{what} was modified in place; work on a copy (e.g. x = x - m, not x -= m)",
    },
}


def current_lang() -> str:
    """``$COURSE_LANG`` (``ja`` or ``en``), else English when ``$LC_ALL`` (or, if unset, ``$LANG``)
    starts with ``en``, else Japanese."""
    chosen = os.environ.get(LANG_ENV, "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "en" if locale.lower().startswith("en") else "ja"


def set_lang(value: str | None) -> None:
    """Choose the language for this process and the test processes it starts (``--lang``)."""
    if value:
        if value not in LANGUAGES:
            raise ValueError(f"lang must be one of {LANGUAGES}, got {value!r}")
        os.environ[LANG_ENV] = value


def t(key: str, lang: str | None = None, **values) -> str:
    """The message ``key`` in ``lang`` (default :func:`current_lang`), formatted with ``values``."""
    return CATALOGUE[key][lang or current_lang()].format(**values)
