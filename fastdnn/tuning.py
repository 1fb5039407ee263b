"""The thresholds that steer fastdnn's routes and kernels: read from the environment once, overridable in a scope.

Every threshold is an :class:`Option` of :data:`OPTIONS`, with its default
and the measurement behind it.  At import, ``FASTDNN_<NAME>`` environment
variables replace the defaults (a bad value raises ``ValueError`` naming the
variable).  :data:`fastdnn.options` reads the values in force and changes
them for the length of a ``with`` block::

    import fastdnn
    fastdnn.options.blocked_min_flops            # 3e8
    with fastdnn.options(blocked_min_flops=1e12):
        net.fit(X, Y, batch_size=4096)           # no column blocks in here

An override holds for the whole process while the block runs (not for one
thread); plans decided before it are decided again inside it and after it.
"""

import contextlib
import dataclasses
import math
import os
import threading


@dataclasses.dataclass(frozen=True)
class Option:
    """One threshold: its name, type, default and why it has that default."""

    name: str
    kind: type
    default: float
    why: str
    minimum: float = 0

    @property
    def variable(self):
        """The environment variable that sets it at import."""
        return "FASTDNN_" + self.name.upper()

    def check(self, value, source):
        """``value`` as this option's type, or ``ValueError``/``TypeError`` naming ``source``."""
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text) if self.kind is int else float(text)
            except ValueError:
                raise ValueError(f"{source} must be {'an integer' if self.kind is int else 'a number'}, "
                                 f"got {text!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{source} must be {'an integer' if self.kind is int else 'a number'}, got {value!r}")
        if self.kind is int and float(value) != int(value):
            raise ValueError(f"{source} must be an integer, got {value!r}")
        value = self.kind(value)
        if not math.isfinite(value) or value < self.minimum:
            raise ValueError(f"{source} must be a finite number >= {self.minimum}, got {value!r}")
        return value


#: Every threshold, by its name (lowercase; the attribute of :mod:`fastdnn.config` is its uppercase).
OPTIONS = {option.name: option for option in (
    Option("parallel_min_elements", int, 1 << 17,
           "an elementwise kernel below this many elements runs on the calling thread: waking the pool costs "
           "more than the work"),
    Option("step_parallel_min_elements", int, 1 << 20,
           "the same cut-over for the passes between a step's products: serial was as fast up to 64 x 16384 "
           "and 1-5% faster on the whole [64, 64, 64, 1] step"),
    Option("small_layer_work", int, 1 << 14,
           "a course helper's layer of at most this many multiply-adds runs as one kernel call: at the "
           "course's test-case sizes the call overheads are most of the time"),
    Option("small_forward_work", int, 1 << 12,
           "the forward pass takes that one call up to this many multiply-adds (BLAS won above: 20 -> 7 at "
           "m = 64, 3.2 against 4.3 us)"),
    Option("small_forward_depth", int, 32,
           "... and a depth of at most this many inputs"),
    Option("skinny_max_rows", int, 8,
           "a layer of at most this many units over a deep F-ordered input runs the skinny product: 7 units "
           "of the cat images 0.67 against 1.34 ms (Xeon)"),
    Option("skinny_min_depth", int, 1024,
           "... when the input has at least this many rows"),
    Option("small_elementwise_max", int, 1024,
           "the course's relu and relu_backward of at most this many elements skip the general kernels, "
           "whose dispatch costs more than the arithmetic"),
    Option("block_workers", int, 0,
           "column blocks: at most this many, one per core; 0 counts the cores this process may run on"),
    Option("first_use_seconds", float, 5.0,
           "a step whose route's kernels are not compiled yet runs in NumPy calls (route 'numpy') while the "
           "process's NumPy steps so far and the fit's would take at most this many seconds: the compile they "
           "spare took 7-9 s for the plain route and 15-27 s for native blocks (docs/cold_start.md); 0 "
           "compiles at once"),
    Option("bf16_min_flops", float, 1e5,
           "precision='auto' multiplies a network in bf16 only from this many forward flops an example: measured "
           "on the 2-core Xeon with AMX (benchmarks/bf16_step.py), bf16 steps took 1.37x float32's at "
           "[64, 64, 64, 1] (1.7e4), 0.93x at [128, 128, 128, 1] (6.6e4), 0.60x at [256, 256, 256, 1] (2.6e5)"),
    Option("blocked_min_flops", float, 3e8,
           "a step is split into worker column blocks only with at least this many flops: below it the "
           "plain path was as fast (cat model 3.8 ms either way)"),
    Option("block_min_columns", int, 32,
           "... and every worker block gets at least this many columns"),
    Option("native_block_min_columns", int, 8,
           "smaller steps run as native blocks of at least this many columns (digits, Adam, batch 16: 35.5 "
           "against 45.5 us a step)", minimum=1),
    Option("native_max_flops_per_unit", float, 512,
           "larger steps run as native blocks when their layers are this narrow (flops per unit and example): "
           "[64, 64, 64, 1] at m = 65536 0.79 of its products' time against 1.06 as worker blocks"),
    Option("native_chunk_bytes", int, 1 << 20,
           "a native block goes through the network a chunk of about this many workspace bytes at a time, "
           "so that its activations stay in the core's cache"),
    Option("native_chunk_min_columns", int, 128,
           "... and a chunk has at least this many columns (a thinner product wastes BLAS's kernels)",
           minimum=1),
    Option("fused_update_min_weights", int, 1 << 16,
           "plain SGD steps a layer's weights inside its dW product from this many weights: the course's "
           "20 x 12288 layer 1.29-1.34 ms against 1.52-1.63 ms"),
)}


def from_environment(environ=None):
    """``{name: value}`` of every option: its ``FASTDNN_<NAME>`` variable when set, else its default."""
    environ = os.environ if environ is None else environ
    values = {}
    for name, option in OPTIONS.items():
        text = environ.get(option.variable)
        values[name] = option.default if text is None or not text.strip() else option.check(text, option.variable)
    return values


class Options:
    """The options in force: read them as attributes, change them for a ``with`` block by calling.

    ``fastdnn.options`` is the one instance; it writes through to
    :mod:`fastdnn.config`, where the routes and kernels read them.
    """

    def __init__(self, config):
        self._config = config
        self._lock = threading.RLock()

    def __getattr__(self, name):
        if name.startswith("_") or name not in OPTIONS:
            raise AttributeError(f"fastdnn has no option {name!r}; the options are {', '.join(OPTIONS)}")
        return getattr(self._config, name.upper())

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(OPTIONS))

    def as_dict(self):
        """``{name: value}`` in force."""
        return {name: getattr(self, name) for name in OPTIONS}

    @contextlib.contextmanager
    def __call__(self, **overrides):
        """Set ``overrides`` (``name=value``) for the length of the ``with`` block, then put the old values back."""
        checked = {}
        for name, value in overrides.items():
            if name not in OPTIONS:
                raise TypeError(f"fastdnn.options got an unknown option {name!r}; the options are "
                                f"{', '.join(OPTIONS)}")
            checked[name] = OPTIONS[name].check(value, name)
        with self._lock:
            before = {name: getattr(self, name) for name in checked}
            if "block_workers" in before and not self._config.BLOCK_WORKERS_SET:
                before["block_workers"] = 0  # unset before: unset after (the limits a parent sets apply again)
            self._apply(checked)
        try:
            yield self
        finally:
            with self._lock:
                self._apply(before)

    def _apply(self, values):
        config = self._config
        for name, value in values.items():
            if name == "block_workers":
                config.BLOCK_WORKERS_SET = bool(value)
                value = value or config.cores_available()
            setattr(config, name.upper(), value)
        # Plans decided under other values are decided again.
        config.GENERATION += 1

    def __repr__(self):
        lines = [f"{name} = {getattr(self, name)!r}" for name in OPTIONS]
        return "fastdnn.options:\n  " + "\n  ".join(lines)


def table():
    """The options as a Markdown table (variable, default, why): the list in docs/guide/options.md."""
    rows = ["| variable | default | why |", "|---|---|---|"]
    for option in OPTIONS.values():
        default = option.default if option.kind is int else f"{option.default:g}"
        rows.append(f"| `{option.variable}` | {default} | {option.why} |")
    return "\n".join(rows)
