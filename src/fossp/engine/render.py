"""Producing a file's wanted content: Jinja2 templates, Augeas edits and ensured lines.

Every value is quoted for its target format by a filter (``nginx_string``,
``apache_string``, ``bind_string``, ``shell_string``, ``html``), so a setting such as
``$(touch /tmp/x)`` lands literally in the file. Augeas edits run through python-augeas on
the controller, against a copy of the host's file that the facts batch brought back: the
lens does the parsing and the quoting,
the plan knows the exact new content (and so whether anything changes), and the result
travels to the host as whole-file data, the same way over SSH, locally and into an
offline root. No augtool or Python is needed on the host.
"""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fossp.engine.recipe import AugeasEdit, fill, template_dirs
from fossp.errors import BadInput

if TYPE_CHECKING:
    from jinja2 import Environment


def _no_dollar_string(value: str, server: str) -> str:
    """A double-quoted string for servers that expand ``$`` in strings, so it is refused."""
    if "$" in value:
        raise BadInput(f"{value!r}: {server} cannot take a literal '$' in this setting")
    return bind_string(value)


def nginx_string(value: str) -> str:
    """A double-quoted nginx string (nginx expands ``$name``)."""
    return _no_dollar_string(value, "nginx")


def apache_string(value: str) -> str:
    """A double-quoted Apache string (Apache expands ``${NAME}``)."""
    return _no_dollar_string(value, "Apache httpd")


def shell_string(value: str) -> str:
    """A single-quoted word for files that a shell sources (/etc/default/*)."""
    return "'" + value.replace("'", "'\\''") + "'"


def bind_string(value: str) -> str:
    """A double-quoted string with backslash escapes: named.conf's, and nginx's and Apache's too."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import escape

    environment = Environment(
        loader=FileSystemLoader([str(folder) for folder in template_dirs()]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters.update(
        nginx_string=nginx_string,
        apache_string=apache_string,
        bind_string=bind_string,
        shell_string=shell_string,
        html=lambda v: str(escape(v)),
    )
    return environment


def render_template(name: str, values: dict[str, Any]) -> bytes:
    """Render a recipe template; settings keep their types (lists stay lists)."""
    return _environment().get_template(name).render(**values).encode()


def ensure_line(current: bytes, line: str) -> bytes:
    """``current`` with ``line`` appended unless some line already equals it."""
    text = current.decode()
    if line in (existing.strip() for existing in text.splitlines()):
        return current
    separator = "" if not text or text.endswith("\n") else "\n"
    return (text + separator + line + "\n").encode()


def edit_text(current: bytes, substitutions: list[tuple[str, str | None]], line: str | None) -> bytes:
    """Apply regular-expression substitutions (each at most once), then ensure ``line``."""
    text = current.decode()
    for pattern, replacement in substitutions:
        if replacement is None:
            raise BadInput(f"substitution for {pattern!r} refers to an unknown setting")
        literal = replacement.replace("\\", "\\\\")  # the text is data, not a template for re
        text = re.sub(pattern, literal, text, count=1, flags=re.MULTILINE)
    result = text.encode()
    return ensure_line(result, line) if line is not None else result


def _augeas_quote(value: str) -> str:
    """A string literal inside an Augeas path expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def require_augeas() -> None:
    """Augeas edits run on this machine (the controller): a deploy asks first, before any
    host is touched, and names the command that installs what is missing."""
    try:
        import augeas  # noqa: F401
    except (ImportError, OSError):  # the module, or the C library it loads
        install = f"{shlex.quote(sys.executable)} -m pip install python-augeas"
        raise BadInput(f"editing config files needs python-augeas on this machine: {install}") from None


def augeas_edit(path: str, current: bytes, edit: AugeasEdit, values: dict[str, str]) -> bytes:
    """Apply ``edit`` with its lens to a copy of ``current``; return the new content."""
    require_augeas()
    import augeas

    with tempfile.TemporaryDirectory(prefix="fossp-augeas-") as scratch:
        copy = Path(scratch) / path.lstrip("/")
        copy.parent.mkdir(parents=True)
        copy.write_bytes(current)
        aug = augeas.Augeas(root=scratch, flags=augeas.Augeas.NO_MODL_AUTOLOAD)
        aug.set("/augeas/load/Fossp/lens", edit.lens)
        aug.set("/augeas/load/Fossp/incl", path)
        aug.load()
        _raise_errors(aug, path, "parse")
        node = f"/files{path}"
        for change in edit.set:
            if change.before:
                _place(aug, node, change.node, change.before)
            if change.value.startswith("{*"):
                _set_list(aug, f"{node}/{change.node}", _filled(change.value, values).split(","))
            else:
                aug.set(f"{node}/{change.node}", _filled(change.value, values))
        for wanted in edit.ensure:
            _ensure_entry(aug, node, {k: _filled(v, values) for k, v in wanted.entry.items()})
        try:
            aug.save()
        except OSError:
            _raise_errors(aug, path, "write")
            raise
        return copy.read_bytes()


def _place(aug: Any, node: str, label: str, before: str) -> None:
    """Make ``label`` come first ahead of the first ``before`` node (a new one is made
    there; one found after it is moved there, keeping its value); nothing without one."""
    children = [path.rsplit("/", 1)[-1].split("[")[0] for path in aug.match(f"{node}/*")]
    if before not in children or (label in children and children.index(label) < children.index(before)):
        return
    kept = aug.get(f"{node}/{label}[1]") if label in children else None
    moved = [aug.get(path) for path in aug.match(f"{node}/{label}[1]/*")]
    aug.remove(f"{node}/{label}")
    aug.insert(f"{node}/{before}[1]", label, True)
    if kept is not None:
        aug.set(f"{node}/{label}", kept)
    for number, item in enumerate(moved, 1):
        aug.set(f"{node}/{label}/{number}", item)


def _set_list(aug: Any, node: str, items: list[str]) -> None:
    """A list setting as the numbered children a lens makes of a comma list (sshd's
    KexAlgorithms/1, /2, ...); left as it is when it holds these items already."""
    if [aug.get(child) for child in aug.match(f"{node}/*")] == items:
        return
    aug.remove(f"{node}/*")
    for number, item in enumerate(items, 1):
        aug.set(f"{node}/{number}", item)


def _ensure_entry(aug: Any, node: str, entry: dict[str, str]) -> None:
    condition = "".join(f"[{key}={_augeas_quote(value)}]" for key, value in entry.items())
    if aug.match(f"{node}/*{condition}"):
        return
    numbers = [int(p.rsplit("/", 1)[-1]) for p in aug.match(f"{node}/*") if p.rsplit("/", 1)[-1].isdigit()]
    new = f"{node}/{max(numbers, default=0) + 1}"
    for key, value in entry.items():
        aug.set(f"{new}/{key}", value)


def _filled(text: str, values: dict[str, str]) -> str:
    filled = fill(text, values)
    if filled is None:
        raise BadInput(f"recipe value {text!r} refers to an unknown setting")
    return filled


def _raise_errors(aug: Any, path: str, stage: str) -> None:
    errors = aug.match("/augeas//error")
    if errors:
        message = aug.get(f"{errors[0]}/message") or aug.get(errors[0]) or "unknown error"
        raise BadInput(f"{path}: Augeas cannot {stage} the file: {message}")
