"""Forbidden shortcuts checked where they run: inside the worker, around each call of an exercise.

The static scan (``grader/forbidden.py``) reads the submission's source; it cannot see a shortcut
reached by a computed name (``getattr(F, "scaled_dot_" + "product_attention")``),
``importlib.import_module``, ``exec`` of a string or a helper module. This module is loaded with
``codec.py`` in the worker (before any confinement hides the grader's folder) and installed by
``worker.run`` BEFORE the submission is imported (:func:`install`). From then on, while the worker
runs a call of exercise ``X`` whose rule (``grader/forbidden_rules/<section>.py``) bans ``Y``, any
use of ``Y`` is recorded as "``X`` used ``Y``", whoever holds the reference to it:

1. Python level — every object the rule names (and its C-binding aliases, :data:`ALIASES`) found in
   ``torch``, ``torch.nn``, ``torch.nn.functional`` and ``torch._C._nn`` is replaced there by a
   recording wrapper (without ``__wrapped__``); for an ``nn.Module`` class its ``__init__`` and
   ``forward`` are wrapped. Wrappers record in every thread.
2. ``__torch_function__`` level — a ``TorchFunctionMode`` sees each PyTorch function by its name
   when it is called, however it was reached: ``torch.ops.aten.*``, ``torch._C._nn.*``,
   ``torch._C._VariableFunctions.*``, an original saved before the wrapping.
3. dispatcher level — a ``TorchDispatchMode`` sees the ATen kernels that only these functions use
   (``native_layer_norm``, ``nll_loss_forward``, the fused attention kernels), even when the
   function mode has been switched off.

Modes 2 and 3 are pushed only around calls of exercises that have a rule, so given code (training
loops) runs as fast as without the guard and may use anything. After each such call the guard
checks that its wrappers and modes are still in place; if the submission removed them, or started
another process during the call (an audit hook, which Python code cannot remove), the call is
recorded as :data:`TAMPERED`. Records travel to the grader in the reply
(``reply["forbidden"] = {exercise: [names]}``); verdicts are computed there.

What this cannot see: a thread the submission started (the modes are per thread; the wrappers are
not) that calls an original it saved or a ``torch.ops`` function; a process it started at import
time; a submission that restores the originals AND pops both modes during its own call and puts
them back before it returns; re-implementations built from lower-level primitives
(``torch._refs``) or other libraries. The static scan remains as an early hint.
"""

from __future__ import annotations

import sys
import threading

TAMPERED = "a way around the grader's shortcut check"
# starting another process in a call of an exercise with a rule: the shortcut could run there, unseen
PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system", "os.exec",
                            "subprocess.Popen", "pty.spawn"})  # fmt: skip
NAMESPACES = ("torch", "torch.nn", "torch.nn.functional", "torch._C._nn")

# the C bindings and ATen kernels behind each library shortcut: using one of them counts as using it
_ATTENTION_KERNELS = [
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
]
_MHA_KERNELS = ["multi_head_attention_forward", "_native_multi_head_attention"]
_LAYER_NORM_KERNELS = ["layer_norm", "native_layer_norm"]
_NLL_KERNELS = ["nll_loss", "nll_loss_nd", "nll_loss2d", "nll_loss_forward", "nll_loss2d_forward"]
ALIASES = {
    "scaled_dot_product_attention": _ATTENTION_KERNELS,
    "MultiheadAttention": _MHA_KERNELS,
    "multi_head_attention_forward": ["_native_multi_head_attention"],
    "layer_norm": ["native_layer_norm"],
    "LayerNorm": _LAYER_NORM_KERNELS,
    "native_layer_norm": [],
    "group_norm": ["native_group_norm"],
    "GroupNorm": ["group_norm", "native_group_norm"],
    "cross_entropy": ["cross_entropy_loss", *_NLL_KERNELS],
    "CrossEntropyLoss": ["cross_entropy", "cross_entropy_loss", *_NLL_KERNELS],
    "nll_loss": _NLL_KERNELS[1:],
    "NLLLoss": _NLL_KERNELS,
    "Linear": ["linear"],
    "TransformerEncoderLayer": ["_transformer_encoder_layer_fwd"],
    "TransformerEncoder": ["_transformer_encoder_layer_fwd", "_nested_tensor_from_mask"],
    "LSTM": ["lstm"],
    "LSTMCell": ["lstm_cell"],
    "GRU": ["gru"],
    "RNN": ["rnn_tanh", "rnn_relu"],
}


def targets_of(banned: list[str]) -> dict[str, set[str]]:
    """Name that may be seen at run time → the rule names it stands for."""
    out: dict[str, set[str]] = {}
    for name in banned:
        for seen in (name, *ALIASES.get(name, ())):
            out.setdefault(seen, set()).add(name)
    return out


def _base_name(func) -> str:
    """``aten::native_layer_norm`` / ``native_layer_norm.default`` / ``linear`` → the plain name."""
    try:
        name = func.__name__
    except Exception:  # noqa: BLE001 - an odd callable
        return ""
    return str(name).rsplit("::", 1)[-1].split(".", 1)[0]


def install(cfg: dict, server_cls) -> None:
    """Wrap the section's banned callables and hook ``server_cls`` (the worker's request handler:
    ``call(header, blobs)`` runs one exercise, ``send(header, blobs)`` sends each reply)."""
    rules = {str(k): [str(n) for n in v] for k, v in (cfg.get("forbidden_rules") or {}).items()}
    sys.modules.pop("guard", None)  # the submission cannot import this module to reach its state
    if not rules:
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    _Guard(rules).hook(server_cls)


class _Guard:
    def __init__(self, rules: dict[str, list[str]]):
        import torch
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        self.targets = {exercise: targets_of(banned) for exercise, banned in rules.items()}
        self.active: dict[str, set[str]] = {}  # targets of the exercise running now (all threads)
        self.exercise: str | None = None
        self.hits: dict[str, set[str]] = {}
        self.lock = threading.Lock()
        self.wrapped: list[tuple[object, str, object]] = []  # (owner, attribute, wrapper)
        record = self.record
        # the C functions the checks use, taken before any submission code can replace them
        self.len_function_stack = torch._C._len_torch_function_stack
        self.function_stack_at = torch._C._get_function_stack_at
        self.len_dispatch_stack = torch._C._len_torch_dispatch_stack
        self.dispatch_stack_at = torch._C._get_dispatch_stack_at

        class FunctionCheck(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                record(_base_name(func))
                return func(*args, **(kwargs or {}))

        class DispatchCheck(TorchDispatchMode):
            @classmethod
            def _should_skip_dynamo(cls) -> bool:
                return False  # else its first call imports torch._dynamo: seconds, in every worker

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                record(_base_name(func))
                return func(*args, **(kwargs or {}))

        self.function_mode, self.dispatch_mode = FunctionCheck(), DispatchCheck()
        self.enter_function, self.exit_function = TorchFunctionMode.__enter__, TorchFunctionMode.__exit__
        self.enter_dispatch, self.exit_dispatch = TorchDispatchMode.__enter__, TorchDispatchMode.__exit__
        self.function_method = FunctionCheck.__torch_function__
        self.dispatch_method = DispatchCheck.__torch_dispatch__
        self.wrap_all({seen for table in self.targets.values() for seen in table})
        sys.addaudithook(self.audit)  # cannot be removed from Python code

    # recording ------------------------------------------------------------------------------

    def record(self, name: str) -> None:
        rule_names = self.active.get(name)
        if rule_names and self.exercise is not None:
            with self.lock:
                self.hits.setdefault(self.exercise, set()).update(rule_names)

    def audit(self, event: str, args) -> None:
        if event in PROCESS_EVENTS and self.exercise is not None:
            with self.lock:
                self.hits.setdefault(self.exercise, set()).add(TAMPERED)

    def take(self) -> dict[str, list[str]]:
        with self.lock:
            out = {exercise: sorted(names) for exercise, names in self.hits.items() if names}
            self.hits = {}
        return out

    # python-level wrappers ------------------------------------------------------------------

    def wrap_all(self, names: set[str]) -> None:
        import importlib

        import torch

        spaces = []
        for space in NAMESPACES:
            try:
                spaces.append(importlib.import_module(space))
            except ImportError:
                spaces.append(sys.modules.get(space) or eval(space, {"torch": torch}))  # noqa: S307 - our names
        done: dict[int, object] = {}
        for name in sorted(names):
            for space in spaces:
                obj = space.__dict__.get(name)
                if obj is None:
                    continue
                if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
                    if id(obj) not in done:
                        done[id(obj)] = obj
                        for attr in ("__init__", "forward"):
                            self.replace(obj, attr, self.wrapper(name, getattr(obj, attr)))
                elif callable(obj):
                    wrapper = done.get(id(obj))
                    if wrapper is None:
                        wrapper = done[id(obj)] = self.wrapper(name, obj)
                    self.replace(space, name, wrapper)

    def replace(self, owner, attr: str, wrapper) -> None:
        try:
            setattr(owner, attr, wrapper)
        except (AttributeError, TypeError):
            return
        self.wrapped.append((owner, attr, wrapper))

    def wrapper(self, name: str, original):
        record = self.record

        def checked(*args, **kwargs):
            record(name)
            return original(*args, **kwargs)

        checked.__name__ = checked.__qualname__ = getattr(original, "__name__", name)
        checked.__doc__ = getattr(original, "__doc__", None)
        checked.__module__ = getattr(original, "__module__", None)
        return checked

    # around each call -----------------------------------------------------------------------

    def intact(self) -> bool:
        if any(getattr(owner, attr, None) is not wrapper for owner, attr, wrapper in self.wrapped):
            return False
        if type(self.function_mode).__torch_function__ is not self.function_method:
            return False
        if type(self.dispatch_mode).__torch_dispatch__ is not self.dispatch_method:
            return False
        functions = [self.function_stack_at(i) for i in range(self.len_function_stack())]
        dispatches = [self.dispatch_stack_at(i) for i in range(self.len_dispatch_stack())]
        return any(m is self.function_mode for m in functions) and any(m is self.dispatch_mode for m in dispatches)

    def begin(self, exercise: str) -> bool:
        table = self.targets.get(exercise)
        if not table:
            return False
        self.exercise, self.active = exercise, table
        self.enter_function(self.function_mode)
        try:
            self.enter_dispatch(self.dispatch_mode)
        except BaseException:
            self.exit_function(self.function_mode, None, None, None)
            raise
        return True

    def check(self) -> None:
        if self.exercise is not None and not self.intact():
            with self.lock:
                self.hits.setdefault(self.exercise, set()).add(TAMPERED)

    def end(self) -> None:
        self.check()
        self.active, self.exercise = {}, None
        for leave, mode in ((self.exit_dispatch, self.dispatch_mode), (self.exit_function, self.function_mode)):
            try:
                leave(mode, None, None, None)
            except Exception:  # noqa: BLE001 - the submission removed the mode itself (recorded above)
                pass

    def hook(self, server_cls) -> None:
        guard = self
        original_call, original_send = server_cls.call, server_cls.send

        def call(server, header, blobs):
            started = guard.begin(str(header.get("name")))
            try:
                return original_call(server, header, blobs)
            finally:
                if started:
                    guard.end()

        def send(server, header, blobs=()):
            guard.check()
            found = guard.take()
            if found and isinstance(header, dict) and "id" in header:
                header = {**header, "forbidden": found}
            return original_send(server, header, blobs)

        server_cls.call, server_cls.send = call, send
