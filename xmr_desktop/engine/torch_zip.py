"""Read a PyTorch ``pytorch_model.bin`` state dict as data, without unpickling it.

Some hub repositories ship small weight files only in PyTorch's zip format (a pickle plus raw tensor storages),
e.g. sentence-transformers' ``2_Dense/pytorch_model.bin``. Unpickling runs whatever the file says, so this module
never does: it walks the pickle's opcodes with ``pickletools.genops`` (which decodes them and executes nothing)
and interprets the handful that a plain ``state_dict()`` of tensors uses. The only names it accepts are
``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter`` and
``torch.*Storage`` types, and it "calls" them by building NumPy arrays itself; any other opcode or name is
refused with :class:`ModelLoadError`. This is stricter than ``torch.load(weights_only=True)``, which
sentence-transformers itself uses for these files.
"""

from __future__ import annotations

import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.errors import ModelLoadError

MAX_PICKLE_BYTES = 4 << 20  # a state dict's pickle is a few KB per tensor; a bigger one is not a state dict

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}
_ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
} | {("torch", name) for name in _STORAGE_DTYPES}


@dataclass(frozen=True)
class _Global:
    module: str
    name: str


@dataclass(frozen=True)
class _Storage:
    array: np.ndarray


class _Mark:
    pass


_MARK = _Mark()


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save``'d state dict (zip format), as NumPy arrays; ModelLoadError otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pickles) != 1:
                raise ModelLoadError(f"{path} is not a PyTorch zip checkpoint (no single data.pkl)")
            root = pickles[0][: -len("data.pkl")]
            order = archive.read(root + "byteorder").decode().strip() if root + "byteorder" in names else "little"
            if order != "little":
                raise ModelLoadError(f"{path} stores {order}-endian tensors; only little-endian is supported")
            info = archive.getinfo(pickles[0])
            if info.file_size > MAX_PICKLE_BYTES:
                raise ModelLoadError(f"{path}: its pickle is {info.file_size} bytes, too big for a state dict")
            program = archive.read(pickles[0])
            storages = lambda key: archive.read(f"{root}data/{key}")  # noqa: E731
            state = _interpret(program, storages, path)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ModelLoadError(f"cannot read {path} as a PyTorch zip checkpoint: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ModelLoadError(f"{path} does not hold a plain state dict of tensors")
    return state


def _interpret(program: bytes, read_storage: Any, path: Path) -> Any:
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1 :]
                del stack[i:]
                return items
        raise ModelLoadError(f"{path}: malformed pickle (no mark)")

    try:
        for opcode, arg, _ in pickletools.genops(program):
            name = opcode.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                return stack.pop()
            if name == "MARK":
                stack.append(_MARK)
            elif name in ("EMPTY_DICT",):
                stack.append({})
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT"):
                stack.append(arg)
            elif name == "NONE":
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name == "TUPLE":
                stack.append(tuple(pop_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                module, attr = arg.split(" ", 1) if name == "GLOBAL" else (stack.pop(-2), stack.pop())
                if (module, attr) not in _ALLOWED:
                    raise ModelLoadError(f"{path} refers to {module}.{attr}, which a plain state dict never does")
                stack.append(_Global(module, attr))
            elif name == "BINPERSID":
                stack.append(_persistent(stack.pop(), read_storage, path))
            elif name == "REDUCE":
                args = stack.pop()
                stack.append(_call(stack.pop(), args, path))
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                stack[-1][key] = value
            elif name == "SETITEMS":
                items = pop_mark()
                for key, value in zip(items[::2], items[1::2]):
                    stack[-1][key] = value
            elif name in ("APPEND", "APPENDS"):
                items = [stack.pop()] if name == "APPEND" else pop_mark()
                stack[-1].extend(items)
            elif name == "BUILD":
                stack.pop()  # an OrderedDict's attributes (the state dict's _metadata): not needed
            else:
                raise ModelLoadError(f"{path}: pickle opcode {name} is not part of a plain state dict")
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelLoadError(f"{path}: malformed state dict pickle ({error})") from error
    raise ModelLoadError(f"{path}: pickle has no STOP")


def _persistent(pid: Any, read_storage: Any, path: Path) -> _Storage:
    if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _Global)):
        raise ModelLoadError(f"{path}: unexpected persistent id {pid!r}")
    dtype = _STORAGE_DTYPES[pid[1].name]
    array = np.frombuffer(read_storage(pid[2]), dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size < int(pid[4]):
        raise ModelLoadError(f"{path}: storage {pid[2]} is shorter than its {pid[4]} elements")
    return _Storage(array)


def _call(function: Any, args: Any, path: Path) -> Any:
    if not isinstance(function, _Global):
        raise ModelLoadError(f"{path}: the pickle calls something that is not an allowed name")
    if function.name == "OrderedDict":
        return dict(*args)
    if function.name == "_rebuild_parameter":
        return args[0]
    if function.name == "_rebuild_tensor_v2":
        storage, offset, size, stride = args[0], int(args[1]), tuple(int(s) for s in args[2]), tuple(int(s) for s in args[3])
        if not isinstance(storage, _Storage):
            raise ModelLoadError(f"{path}: a tensor without a storage")
        expected, step = [], 1
        for dim in reversed(size):
            expected.append(step)
            step *= dim
        if size and tuple(reversed(expected)) != stride:
            raise ModelLoadError(f"{path}: a tensor with strides {stride} (not contiguous) is not supported")
        count = int(np.prod(size)) if size else 1
        return storage.array[offset : offset + count].reshape(size).copy()
    raise ModelLoadError(f"{path}: {function.module}.{function.name} cannot be called here")
