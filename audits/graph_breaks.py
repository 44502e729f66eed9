"""Read what dynamo says about a graph break into a `GraphBreakInfo`.

Dynamo reports a break as a `torch._dynamo.exc.Unsupported` (fullgraph=True)
or a `GraphCompileReason` (fullgraph=False). Both carry a message of the form

    <gb_type>
      Explanation: ...
      Hint: ...
      Developer debug context: ...
     For more details about this graph break, please visit: <url>

and a stack of user frames. The graph-break code (GBxxxx) comes from the
registry file shipped with the installed torch; older torch versions have no
registry, so every field past gb_type is optional.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sysconfig
import traceback
from collections.abc import Iterable
from pathlib import Path

import torch

from audits.torch_compat import break_frames
from reporting.schema.audit import GraphBreakInfo, SourceLocation

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_STDLIB_DIRS = tuple(
    {
        os.path.abspath(p)
        for key in ("stdlib", "platstdlib")
        if (p := sysconfig.get_paths().get(key))
    }
)
_DOC_URL = re.compile(r"please visit:\s*(\S+)")
_GB_FROM_URL = re.compile(r"/gb(\d+)\.html")
_NESTED = "*** While handling this graph break, another graph break occurred: ***"


def is_user_file(filename: str) -> bool:
    """False for frames inside torch or the Python standard library."""
    path = os.path.abspath(filename)
    return not any(path.startswith(d + os.sep) for d in (_TORCH_DIR, *_STDLIB_DIRS))


def source_location(filename: str, line: int, function: str, code: str) -> SourceLocation:
    """A user line, its file shown relative to the working directory when inside it."""
    path, cwd = os.path.abspath(filename), os.getcwd()
    shown = os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else filename
    return SourceLocation(file=shown, line=line, function=function, code=code.strip())


def location_of(frame: traceback.FrameSummary) -> SourceLocation:
    return source_location(frame.filename, frame.lineno or 0, frame.name, frame.line or "")


def innermost_user_frame(frames: Iterable[traceback.FrameSummary]) -> SourceLocation | None:
    """The deepest frame of user code; frames inside torch or the stdlib are skipped."""
    user = [f for f in frames if is_user_file(f.filename)]
    return location_of(user[-1]) if user else None


@functools.lru_cache(maxsize=1)
def _gb_codes() -> dict[str, str]:
    """gb_type -> "GBxxxx", from the registry the installed torch ships (if any)."""
    registry = Path(torch._dynamo.__file__).parent / "graph_break_registry.json"
    try:
        entries = json.loads(registry.read_text())
    except (OSError, ValueError):
        return {}
    return {
        item["Gb_type"]: code
        for code, items in entries.items()
        for item in items
        if isinstance(item, dict) and "Gb_type" in item
    }


def parse_break_message(message: str, *, location: SourceLocation | None = None) -> GraphBreakInfo:
    """Split dynamo's graph-break message into its fields."""
    # A break raised while handling another break lists both; the first is the cause.
    message = message.split(_NESTED)[0]
    message = message.split("\nfrom user code:")[0]
    lines = message.strip("\n").splitlines()
    gb_type = lines[0].strip() if lines else ""
    explanation: list[str] = []
    hints: list[str] = []
    context: list[str] = []
    current: list[str] | None = None
    for raw in lines[1:]:
        line = raw.strip()
        if line.startswith("Explanation:"):
            current = explanation
            line = line.removeprefix("Explanation:").strip()
        elif line.startswith("Hint:"):
            hints.append("")
            current = None
            line = line.removeprefix("Hint:").strip()
        elif line.startswith("Developer debug context:"):
            current = context
            line = line.removeprefix("Developer debug context:").strip()
        elif line.startswith("For more details about this graph break"):
            current = None
            continue
        if not line:
            continue
        if current is None and hints:
            hints[-1] = f"{hints[-1]} {line}".strip()
        elif current is not None:
            current.append(line)
    url_match = _DOC_URL.search(message)
    doc_url = url_match.group(1) if url_match else None
    gb_code = _gb_codes().get(gb_type)
    if gb_code is None and doc_url and (m := _GB_FROM_URL.search(doc_url)):
        gb_code = f"GB{m.group(1)}"
    return GraphBreakInfo(
        gb_type=gb_type,
        gb_code=gb_code,
        doc_url=doc_url,
        explanation=" ".join(explanation),
        hints=tuple(h for h in hints if h),
        context=" ".join(context),
        location=location,
    )


def exception_in_chain(
    exc: BaseException | None, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first exception of one of `kinds` in `exc` and its chain of causes and contexts."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kinds):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def break_from_exception(exc: BaseException) -> GraphBreakInfo | None:
    """GraphBreakInfo for a dynamo graph-break error, None for any other exception."""
    from torch._dynamo.exc import Unsupported

    # Itself, or a cause such as a recompile-limit hit.
    cause = exception_in_chain(exc, (Unsupported,))
    if cause is None:
        return None
    # dynamo's record of the break, else where the exception came from in user code
    raised = traceback.extract_tb(exc.__traceback__)
    location = innermost_user_frame(break_frames(cause)) or innermost_user_frame(raised)
    message = getattr(cause, "msg", None) or str(cause)
    return parse_break_message(message, location=location)


def break_from_reason(reason: object) -> GraphBreakInfo:
    """GraphBreakInfo for a `GraphCompileReason` recorded with fullgraph=False."""
    frames = getattr(reason, "user_stack", None) or []
    return parse_break_message(
        str(getattr(reason, "reason", "")), location=innermost_user_frame(frames)
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
