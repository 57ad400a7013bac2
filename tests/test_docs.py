"""README.md and docs/*.md: the README stays a short manual and every link in them resolves.

No TensorFlow: these tests read Markdown files only (``--noconftest`` skips the suite's
TensorFlow import: ``pytest tests/test_docs.py --noconftest`` takes about a second).

- README.md has at most 400 lines.
- Every relative link and image in README.md and docs/*.md names an existing file or
  folder, and every ``#anchor`` (same page or ``file.md#anchor``) names a heading of
  the target, with GitHub's slugs: the heading's text without its Markdown, lower-case,
  every character other than letters, digits, ``-``, ``_`` and spaces dropped, spaces
  turned into ``-``, ``-1``, ``-2``, ... appended to repeated slugs.
- Every repository file a documented command runs (``python dir/file.py``,
  ``bash file.sh``) exists.
- Shell commands quote their bracketed lists (``'[16,16,16]'``): zsh would expand them
  as glob patterns.
"""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 400

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
RUN = re.compile(r"(?:^|[\s;&|(])(?:\S*/)?(?:python3?|bash)\s+"
                 r"([\w.][\w./-]*\.(?:py|sh))(?=$|[\s;&|)])")
COMMAND_START = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*(?:\S*/)?(?:python3?|bash)\s")
UNQUOTED_LIST = re.compile(r"(?<!['\"\w])\[[^\]\s'\"]*,[^\]\s'\"]*\](?!['\"])")


def doc_files():
    return [README] + sorted((ROOT / "docs").glob("*.md"))


def split_code(text):
    """(prose lines with their numbers, code blocks as lists of lines, fenced language)."""
    prose, blocks = [], []
    fenced, lang, block = False, "", []
    indented = []
    previous_blank = True
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fence:
            if fenced:
                blocks.append((lang, block))
                fenced, block = False, []
            else:
                fenced, lang, block = True, line.strip().strip("`~").strip(), []
            continue
        if fenced:
            block.append(line)
            continue
        if line.startswith("    ") and (indented or previous_blank) and line.strip():
            indented.append(line[4:])
            continue
        if indented and not line.strip():
            indented.append("")
            continue
        if indented:
            blocks.append(("", indented))
            indented = []
        prose.append((number, line))
        previous_blank = not line.strip()
    if indented:
        blocks.append(("", indented))
    return prose, blocks


def heading_text(raw):
    text = LINK.sub(lambda m: m.group(1), raw)
    text = INLINE_CODE.sub(lambda m: m.group(2), text)
    return re.sub(r"<[^>]+>", "", text)


def slug(text):
    text = heading_text(text).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "-_ " or c.isspace())
    return re.sub(r"\s", "-", text)


def anchors(path):
    prose, _ = split_code(path.read_text(encoding="utf-8"))
    seen, result = {}, set()
    for _, line in prose:
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path):
    """(line number, target) of every link and image outside code; a link may span lines."""
    text = path.read_text(encoding="utf-8")
    prose, _ = split_code(text)
    lines = [""] * (len(text.splitlines()) + 1)
    for number, line in prose:
        lines[number] = INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
    joined = "\n".join(lines)
    return [(joined.count("\n", 0, m.start()), m.group(2)) for m in LINK.finditer(joined)]


def broken_links(path):
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        target_path = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not target_path.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor:
            if target_path.suffix != ".md" or target_path.is_dir():
                problems.append(f"{where}: anchor into a file that is not Markdown")
            elif anchor not in anchors(target_path):
                problems.append(f"{where}: no heading with that anchor")
    return problems


def code_texts(path):
    """Every code block line and inline code span: where commands are written."""
    text = path.read_text(encoding="utf-8")
    prose, blocks = split_code(text)
    texts = []
    for lang, block in blocks:
        if lang in ("python", "py", "json", "yaml"):
            continue
        texts.extend(join_continuations(block))
    for _, line in prose:
        texts.extend(m.group(2) for m in INLINE_CODE.finditer(line))
    return texts


def join_continuations(lines):
    commands, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
        else:
            commands.append(current + line)
            current = ""
    if current:
        commands.append(current)
    return commands


def without_comment(command):
    return re.sub(r"(^|\s)#.*$", "", command)


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, \
        f"README.md has {len(lines)} lines, at most {MAX_README_LINES}"


def test_docs_exist_and_readme_links_every_page():
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert pages, "no docs/*.md pages"
    linked = {(README.parent / t.partition("#")[0]).resolve() for _, t in links(README)}
    missing = [p.name for p in pages if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_anchors_resolve(path):
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_run_files_that_exist(path):
    missing = []
    for text in code_texts(path):
        for match in RUN.finditer(without_comment(text)):
            if not (ROOT / match.group(1)).is_file():
                missing.append(match.group(1))
    assert not missing, \
        f"{path.relative_to(ROOT)} runs files that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_quote_bracketed_lists(path):
    unquoted = []
    for text in code_texts(path):
        command = without_comment(text).strip()
        if COMMAND_START.match(command):
            unquoted.extend(m.group(0) for m in UNQUOTED_LIST.finditer(command))
    assert not unquoted, f"{path.relative_to(ROOT)}: quote these for zsh: {unquoted}"


def test_slugs_follow_github():
    assert slug("Training: `training/train_gqn_draw.py`") == "training-trainingtrain_gqn_drawpy"
    assert slug("Example pictures and what training reaches on a CPU") == (
        "example-pictures-and-what-training-reaches-on-a-cpu")
    assert slug("Data: hotels of mazes (`data_provider/gen_hotels.py`)") == (
        "data-hotels-of-mazes-data_providergen_hotelspy")
    assert slug("Many GPUs and many machines") == "many-gpus-and-many-machines"


def test_checker_finds_broken_links(tmp_path, monkeypatch):
    """The checks above fail on a missing file, a missing anchor and an unquoted list."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Title\n\n## Same\n\n## Same\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Top\n\n[ok](docs/page.md#same-1) [ok](#top) [gone](docs/nothing.md)\n"
        "[bad anchor](docs/page.md#same-2) ![img](docs/missing.png) "
        "[web](https://example.org/x) [two\n"
        "lines](docs/page.md#title-1)\n"
        "`[not a link](nowhere.md)`\n\n"
        "    python tools/absent.py --set A [1,2,3]\n",
        encoding="utf-8")
    problems = broken_links(readme)
    assert len(problems) == 4, problems
    assert any("#title-1: no heading" in p for p in problems)
    assert any("docs/nothing.md: no such file" in p for p in problems)
    assert any("#same-2: no heading" in p for p in problems)
    assert any("docs/missing.png: no such file" in p for p in problems)
    commands = code_texts(readme)
    assert [m.group(1) for c in commands for m in RUN.finditer(c)] == ["tools/absent.py"]
    assert [m.group(0) for c in commands for m in UNQUOTED_LIST.finditer(c)] == ["[1,2,3]"]
    assert not UNQUOTED_LIST.search("python x.py --set A '[1,2,3]'")
