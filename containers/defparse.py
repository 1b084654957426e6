"""Apptainer definition files, parsed by Apptainer's own rules.

No Apptainer runtime exists on the build machines, so the recipe is checked and built by this module and
``imagebuild``. The rules follow Apptainer 1.x (``pkg/build/types/parser``, ``internal/pkg/build/args``):

* Everything before the first section is the header: ``Key: value`` lines, case-insensitive known keys,
  ``#`` comments, ``\\`` continuations.
* A line whose first word starts with ``%`` opens a section, even inside a shell heredoc.
* Only the known sections (and the SCIF ``%app*`` sections) are accepted.
* A ``Bootstrap:`` line at the start of a line after the first section starts a new build stage; every stage
  of a multi-stage file needs its own header.
* ``{{ NAME }}`` is replaced by ``--build-arg NAME=...`` or the ``%arguments`` default, except after a ``#``
  comment on the same line; a placeholder without a value is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KNOWN_SECTIONS = frozenset(
    {"help", "setup", "files", "labels", "environment", "pre", "post", "runscript", "test", "startscript",
     "arguments"}
)
APP_SECTIONS = frozenset(
    {"appinstall", "applabels", "appfiles", "appenv", "apptest", "apphelp", "apprun", "appstart"}
)
HEADER_KEYS = frozenset(
    {"bootstrap", "from", "includecmd", "mirrorurl", "updateurl", "osversion", "include", "library",
     "registry", "namespace", "stage", "product", "user", "regcode", "productpgp", "registerurl", "modules",
     "fingerprints", "confurl", "setopt"}
)
_OTHERURL = re.compile(r"otherurl\d+$")
_PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")
_COMMENTED = re.compile(r"#[^!]")
_STAGE_START = re.compile(r"^bootstrap:", re.IGNORECASE | re.MULTILINE)
# Apptainer's %files splitter: words, "double quoted" or 'single quoted' paths.
_FILES_WORD = re.compile(r"""([^\s"']*{{\s*\w+\s*}}*[^\s{}"']*)+|([^\s"']+|"([^"]*)"|'([^']*))""")


class RecipeError(ValueError):
    """A definition file that Apptainer would refuse (message: one line naming the file and the problem)."""


@dataclass(frozen=True)
class Section:
    """One ``%name args`` block; repeated sections are concatenated, as Apptainer does."""

    args: str
    body: str
    line: int


@dataclass(frozen=True)
class Recipe:
    """A parsed single-stage definition, after build-argument substitution."""

    header: dict[str, str]
    sections: dict[str, Section]
    files: list[tuple[str, str]]
    labels: dict[str, str]
    text: str
    warnings: list[str] = field(default_factory=list)

    def script(self, name: str) -> str:
        """Body of a section, or '' when the recipe has none."""
        section = self.sections.get(name)
        return section.body if section else ""


def parse_recipe(text: str, build_args: dict[str, str] | None = None, *, name: str = "recipe") -> Recipe:
    """Parse a definition file the way ``apptainer build`` does and substitute its build arguments."""
    build_args = dict(build_args or {})
    stages = _split_stages(text)
    if len(stages) > 1:
        for stage in stages:
            if not _parse_header(_split_sections(stage, name)[0], name):
                raise RecipeError(f"{name}: multiple stages detected, all must have headers "
                                  "(a 'Bootstrap:' line after a section starts a new stage)")
        raise RecipeError(f"{name}: {len(stages)} build stages; this builder supports single-stage recipes")
    header_text, raw_sections = _split_sections(text, name)
    _parse_header(header_text, name)  # Apptainer validates the raw file before substitution.
    defaults, warnings = _argument_defaults(raw_sections, name)
    substituted, used = substitute(text, build_args, defaults, name=name)
    unused = sorted(set(build_args) - used)
    if unused:
        warnings.append(f"{name}: unused build variables: {', '.join(unused)}")

    header_text, raw_sections = _split_sections(substituted, name)
    header = _parse_header(header_text, name)
    if "bootstrap" not in header:
        raise RecipeError(f"{name}: no 'Bootstrap:' header before the first section")
    sections: dict[str, Section] = {}
    files: list[tuple[str, str]] = []
    for line_no, key, args, body in raw_sections:
        if key == "files":
            if args.split("#")[0].strip():
                raise RecipeError(f"{name}:{line_no}: '%files {args}' copies from another stage; "
                                  "this builder supports single-stage recipes")
            files.extend(_parse_files(body))
            continue
        if key in sections:
            previous = sections[key]
            sections[key] = Section(previous.args, previous.body + body, previous.line)
        else:
            sections[key] = Section(args, body, line_no)
    return Recipe(header, sections, files, _parse_labels(sections.get("labels")), substituted, warnings)


def substitute(text: str, build_args: dict[str, str], defaults: dict[str, str], *,
               name: str = "recipe") -> tuple[str, set[str]]:
    """Replace ``{{ NAME }}`` placeholders (build args beat ``%arguments`` defaults); return text and names used."""
    out: list[str] = []
    used: set[str] = set()
    end = 0
    for match in _PLACEHOLDER.finditer(text):
        line_start = text.rfind("\n", end, match.start() + 1)
        prefix = text[(line_start if line_start >= 0 else end):match.start()]
        if _COMMENTED.search(prefix):
            continue
        key = match.group(1)
        value = build_args.get(key, defaults.get(key))
        if value is None:
            raise RecipeError(f"{name}: build var {key} is not defined through either --build-arg "
                              "or the %arguments section")
        out.append(text[end:match.start()])
        out.append(value)
        used.add(key)
        end = match.end()
    out.append(text[end:])
    return "".join(out), used


def parse_key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as Apptainer reads build arguments: both parts trimmed and non-empty, no unquoting."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise RecipeError(f"{text!r} is not a KEY=VALUE pair with a non-empty key and value")
    return key, value


def _split_stages(text: str) -> list[str]:
    starts = [m.start() for m in _STAGE_START.finditer(text)]
    bounds = [0, *[s for s in starts if s > 0], len(text)]
    stages = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    return [s for s in stages if s.strip()]


def _split_sections(text: str, name: str) -> tuple[str, list[tuple[int, str, str, str]]]:
    """Header text and ``(line, key, args, body)`` per section, split on lines whose first word is ``%...``."""
    header: list[str] = []
    sections: list[tuple[int, str, str, list[str]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if words and words[0].startswith("%"):
            word = words[0].lstrip("%").lower()
            rest = line.strip()[len(words[0]):].strip()
            if word in APP_SECTIONS:
                raise RecipeError(f"{name}:{line_no}: SCIF app sections (%{word}) are not supported here")
            if word not in KNOWN_SECTIONS:
                raise RecipeError(f"{name}:{line_no}: invalid section %{word} (a line whose first word starts "
                                  "with '%' opens a section, even inside a heredoc)")
            sections.append((line_no, word, rest, []))
        elif sections:
            sections[-1][3].append(line + "\n")
        else:
            header.append(line)
    return "\n".join(header), [(n, k, a, "".join(body)) for n, k, a, body in sections]


def _parse_header(text: str, name: str) -> dict[str, str]:
    header: dict[str, str] = {}
    pending_key, pending_value = "", ""
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if pending_key:
                header[pending_key], pending_key, pending_value = pending_value, "", ""
            continue
        line = line.split("#")[0]
        if pending_key:
            key, value = pending_key, pending_value + line.strip()
            pending_key, pending_value = "", ""
        else:
            key, sep, value = line.partition(":")
            if not sep:
                raise RecipeError(f"{name}:{line_no}: header line {raw.strip()!r} is not 'Key: value' "
                                  "(sections start with %)")
            key, value = key.strip().lower(), value.strip()
        if value.endswith("\\"):
            pending_key, pending_value = key, value[:-1]
            continue
        if key not in HEADER_KEYS and not _OTHERURL.match(key):
            raise RecipeError(f"{name}:{line_no}: invalid header keyword {key!r}")
        header[key] = value
    return header


def _argument_defaults(sections: list[tuple[int, str, str, str]], name: str) -> tuple[dict[str, str], list[str]]:
    defaults: dict[str, str] = {}
    warnings: list[str] = []
    for _, key, _, body in sections:
        if key != "arguments":
            continue
        for raw in body.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                arg, value = parse_key_value(line)
            except RecipeError as err:
                warnings.append(f"{name}: skipping {line!r} in %arguments: {err}")
                continue
            defaults[arg] = value
    return defaults, warnings


def _parse_files(body: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in body.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = [w.strip().strip('"') for w in (m.group(0) for m in _FILES_WORD.finditer(line))]
        src = words[0]
        pairs.append((src, words[1] if len(words) > 1 and words[1] else src))
    return pairs


def _parse_labels(section: Section | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for raw in (section.body if section else "").strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        labels[key.strip()] = value.strip()
    return labels
