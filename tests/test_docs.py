"""README.md and docs/*.md say only what exists.

In every fenced command block (```bash / ```sh / ```shell / ```console) each ``tools/...`` and
``configs/...`` path exists (or is a file the same page writes: a code block whose first line is
``# <path>``), and each ``--flag`` given to a project tool is one the tool accepts (read from its
``add_argument`` calls with ``ast``, so no tool is imported; a shell tool accepts the flags it
compares ``$1`` with and, when it forwards its arguments to ``tools/X.py``, X's flags). Inline
code in the prose is checked for paths too. Every relative link resolves (a ``#anchor`` to a
heading of the target page), every image shown exists, and the README stays a front door.
"""
import ast
import functools
import os
import os.path as osp
import re
import shlex
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md'] + sorted(
    osp.join('docs', name) for name in os.listdir(osp.join(ROOT, 'docs'))
    if name.endswith('.md'))
COMMAND_LANGS = {'bash', 'sh', 'shell', 'console'}
IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp')
#: how long the README may grow (issue 18: "at most ~250 lines")
README_MAX_LINES = 250

FENCE = re.compile(r'^(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$',
                   re.M | re.S)
PROJECT_PATH = re.compile(r'(?<![\w.$/-])((?:tools|configs)/[\w./{},*<>-]*[\w}*>])')
TOOL = re.compile(r'(?:^|/)tools/([\w-]+)\.(py|sh)$')
LINK = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
HTML_IMG = re.compile(r'<img\s[^>]*src="([^"]+)"', re.I)
INLINE_CODE = re.compile(r'(`+)(.+?)\1', re.S)
SHELL_SEPARATORS = {'|', '||', '&&', ';', '&', '>', '>>', '<', '2>', '2>&1'}


# ----------------------------------------------------------------------- markdown parts
def fenced_blocks(text: str) -> Iterator[Tuple[str, str, int]]:
    """``(language, body, line number of the opening fence)`` of every fenced block."""
    for m in FENCE.finditer(text):
        yield m['lang'].lower(), m['body'], text.count('\n', 0, m.start()) + 1


def prose(text: str) -> str:
    """``text`` with its fenced blocks blanked out (line numbers kept)."""
    return FENCE.sub(lambda m: '\n' * m.group(0).count('\n'), text)


def command_lines(lang: str, body: str) -> List[str]:
    """The shell commands of a block: continuations joined, console output left out."""
    lines, current = [], ''
    for raw in body.splitlines():
        if lang == 'console' and not current:
            if not raw.startswith('$ '):
                continue  # output
            raw = raw[2:]
        current += raw.rstrip()
        if current.endswith('\\'):
            current = current[:-1] + ' '
            continue
        lines.append(current)
        current = ''
    if current:
        lines.append(current)
    return lines


def shell_words(line: str) -> List[str]:
    """The words of a command line, without its comment."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        return line.split('#', 1)[0].split()


def expand_braces(path: str) -> List[str]:
    """``a/{b,c}.py`` -> ``['a/b.py', 'a/c.py']`` (shell brace expansion, nested too)."""
    m = re.search(r'\{([^{}]*,[^{}]*)\}', path)
    if not m:
        return [path]
    return [p for alt in m[1].split(',')
            for p in expand_braces(path[:m.start()] + alt + path[m.end():])]


def heading_anchors(text: str) -> Set[str]:
    """GitHub's anchors of the page's headings (lower case, punctuation dropped, spaces
    to hyphens, ``-1``, ``-2`` for repeats)."""
    anchors: Set[str] = set()
    seen: Dict[str, int] = {}
    for m in re.finditer(r'^#{1,6}\s+(.+?)\s*#*\s*$', prose(text), re.M):
        slug = re.sub(r'[^\w\- ]', '', m[1].strip().lower()).replace(' ', '-')
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f'{slug}-{n}')
    return anchors


def written_files(text: str) -> Set[str]:
    """Files the page tells the reader to write: code blocks whose first line is ``# <path>``."""
    files = set()
    for _, body, _ in fenced_blocks(text):
        first = body.split('\n', 1)[0].strip()
        m = re.fullmatch(r'#\s*((?:tools|configs)/[\w./-]+)(?::.*)?', first)
        if m:
            files.add(m[1])
    return files


# ----------------------------------------------------------------------- the tools' flags
@functools.lru_cache(maxsize=None)
def python_tool_flags(path: str) -> Optional[Set[str]]:
    """The ``--flags`` of ``tools/X.py``: the string options of its ``add_argument`` calls,
    plus ``--debug`` when the tool runs through ``run_cli``. None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        source = f.read()
    flags = set()
    for node in ast.walk(ast.parse(source, path)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'add_argument'):
            flags.update(a.value for a in node.args
                         if isinstance(a, ast.Constant) and isinstance(a.value, str)
                         and a.value.startswith('--'))
    if 'run_cli' in source:
        flags.add('--debug')
    return flags


@functools.lru_cache(maxsize=None)
def shell_tool_flags(path: str) -> Optional[Set[str]]:
    """The ``--flags`` of ``tools/X.sh``: those it compares its arguments with and, when it
    forwards its arguments (``$@``, ``${@:N}``) to one ``tools/Y.py``, Y's. None if there is
    no such file or it forwards them elsewhere (e.g. to pytest): then flags are not checked."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        source = f.read()
    flags = set(re.findall(r'''(?:==\s*|^\s*)["']?(--[\w-]+)["']?\s*(?:\]\]|\))''', source, re.M))
    if re.search(r'\$\{?@|PY_ARGS', source):
        targets = set(re.findall(r'tools/([\w-]+)\.py', source))
        if len(targets) != 1:
            return None
        forwarded = python_tool_flags(osp.join(osp.dirname(path), f'{targets.pop()}.py'))
        flags |= forwarded or set()
    return flags


def tool_flags(root: str, name: str, kind: str) -> Optional[Set[str]]:
    path = osp.join(root, 'tools', f'{name}.{kind}')
    return python_tool_flags(path) if kind == 'py' else shell_tool_flags(path)


# ----------------------------------------------------------------------- the checks
def path_exists(root: str, path: str, written: Set[str]) -> bool:
    if '<' in path or '*' in path:  # a placeholder or a pattern, not a path
        return True
    return all(p in written or osp.exists(osp.join(root, p.rstrip('/')))
               for p in expand_braces(path))


def check_commands(text: str, root: str, written: Set[str]) -> List[str]:
    """Problems of the command blocks: missing paths, flags a tool does not take."""
    problems = []
    for lang, body, line in fenced_blocks(text):
        if lang not in COMMAND_LANGS:
            continue
        for command in command_lines(lang, body):
            code = ' '.join(shell_words(command))
            for path in PROJECT_PATH.findall(code):
                if not path_exists(root, path, written):
                    problems.append(f'line {line}: {path} does not exist ({command!r})')
            words = shell_words(command)
            for i, word in enumerate(words):
                m = TOOL.search(word)
                if not m:
                    continue
                flags = tool_flags(root, m[1], m[2])
                if flags is None:
                    continue  # a missing tool is reported above; a pytest wrapper is unchecked
                for arg in words[i + 1:]:
                    if arg in SHELL_SEPARATORS or TOOL.search(arg):
                        break
                    flag = arg.split('=', 1)[0]
                    if re.fullmatch(r'--[A-Za-z][\w-]*', flag) and flag not in flags:
                        problems.append(f'line {line}: tools/{m[1]}.{m[2]} has no {flag} '
                                        f'({command!r})')
    return problems


def check_prose(text: str, doc: str, root: str, written: Set[str]) -> List[str]:
    """Problems of the prose: paths in inline code, links, images."""
    problems = []
    body = prose(text)
    for m in INLINE_CODE.finditer(body):
        for path in PROJECT_PATH.findall(m[2]):
            if not path_exists(root, path, written):
                problems.append(f'`{m[2]}`: {path} does not exist')
    here = osp.dirname(osp.join(root, doc))
    own_anchors = heading_anchors(text)
    code_free = INLINE_CODE.sub('', body)
    targets = [(bool(m[1]), m[3]) for m in LINK.finditer(code_free)]
    targets += [(True, src) for src in HTML_IMG.findall(code_free)]
    for is_image, target in targets:
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        if not path:
            if anchor not in own_anchors:
                problems.append(f'link {target}: no heading #{anchor} on this page')
            continue
        full = osp.normpath(osp.join(here, path))
        if not osp.exists(full):
            problems.append(f'link {target}: {osp.relpath(full, root)} does not exist')
            continue
        if is_image and not (osp.isfile(full) and full.lower().endswith(IMAGE_EXTS)):
            problems.append(f'image {target} is not an image file')
        if anchor and full.endswith('.md'):
            with open(full, encoding='utf-8') as f:
                if anchor not in heading_anchors(f.read()):
                    problems.append(f'link {target}: no heading #{anchor} in '
                                    f'{osp.relpath(full, root)}')
    return problems


def check_markdown(text: str, doc: str, root: str = ROOT) -> List[str]:
    """Every problem of one page (``doc``: its path relative to ``root``)."""
    written = written_files(text)
    return check_commands(text, root, written) + check_prose(text, doc, root, written)


# ----------------------------------------------------------------------- the pages
@pytest.mark.parametrize('doc', DOCS)
def test_page_says_only_what_exists(doc):
    with open(osp.join(ROOT, doc), encoding='utf-8') as f:
        problems = check_markdown(f.read(), doc)
    assert not problems, f'{doc}:\n' + '\n'.join(problems)


def test_readme_is_a_front_door():
    """Short, with the two commands exactly as the project promises them, and a link to
    every page of the manual."""
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    assert text.count('\n') <= README_MAX_LINES, 'README.md: move details into docs/'
    commands = [line.split('#')[0].strip() for _, body, _ in fenced_blocks(text)
                for line in body.splitlines()]
    assert 'bash tools/quickstart.sh' in commands
    assert 'bash tools/run_tests.sh' in commands
    linked = {osp.normpath(m[3].partition('#')[0]) for m in LINK.finditer(prose(text))}
    missing = [d for d in DOCS[1:] if d not in linked]
    assert not missing, f'README.md links no page {missing}'


def test_the_docs_show_the_images_they_ship():
    """Every picture in docs/ is shown by some page (or it is dead weight)."""
    shown = set()
    for doc in DOCS:
        with open(osp.join(ROOT, doc), encoding='utf-8') as f:
            text = prose(f.read())
        here = osp.dirname(osp.join(ROOT, doc))
        shown |= {osp.normpath(osp.join(here, m[3])) for m in LINK.finditer(text) if m[1]}
        shown |= {osp.normpath(osp.join(here, s)) for s in HTML_IMG.findall(text)}
    pictures = {osp.join(ROOT, 'docs', n) for n in os.listdir(osp.join(ROOT, 'docs'))
                if n.lower().endswith(IMAGE_EXTS)}
    assert not pictures - shown, f'not shown by any page: {sorted(pictures - shown)}'


# ----------------------------------------------------------------------- the checker itself
GOOD = '''# Page

## Run it

```bash
python tools/train.py configs/nicegan_c2d.py --work-dir w --cfg-options a=1 --debug
tools/dist_train.sh configs/nicegan_h2z.py 8 --amp  # forwards to train.py
bash tools/setup_env.sh --relock
python tools/train.py configs/mine.py
```

```python
# configs/mine.py
_base_ = ['./nicegan_c2d.py']
```

See [the other section](#run-it), [training](docs/training.md#your-own-data) and
`tools/translate.py`. ![grid](docs/quickstart_grid.png)
'''


def test_the_checker_passes_a_good_page():
    assert check_markdown(GOOD, 'README.md') == []


@pytest.mark.parametrize('bad, expected', [
    ('```bash\npython tools/train.py c --no-such-flag\n```',
     'tools/train.py has no --no-such-flag'),
    ('```sh\npython tools/nope.py --x\n```', 'tools/nope.py does not exist'),
    ('```console\n$ python tools/test.py configs/nope.py ckpt\noutput\n```',
     'configs/nope.py does not exist'),
    ('```bash\npython tools/translate.py c k \\\n    --input a --output b --tiles 4\n```',
     'tools/translate.py has no --tiles'),
    ('```bash\ntools/dist_train.sh configs/nicegan_h2z.py 8 --amd\n```',
     'tools/dist_train.sh has no --amd'),
    ('```bash\nbash tools/setup_env.sh --relocks\n```', 'tools/setup_env.sh has no --relocks'),
    ('Use `configs/nicegan/missing.py`.', 'configs/nicegan/missing.py does not exist'),
    ('[x](docs/missing.md)', 'docs/missing.md does not exist'),
    ('[x](docs/training.md#no-such-heading)', 'no heading #no-such-heading'),
    ('[x](#nowhere)', 'no heading #nowhere on this page'),
    ('![x](docs/missing.png)', 'docs/missing.png does not exist'),
    ('![x](docs/training.md)', 'is not an image file'),
    ('<img src="docs/nope.png">', 'docs/nope.png does not exist'),
])
def test_the_checker_finds_each_kind_of_mistake(bad, expected):
    problems = check_markdown(bad, 'README.md')
    assert any(expected in p for p in problems), problems


def test_comments_and_output_are_not_commands():
    text = ('```bash\npython tools/train.py c  # --not-a-flag, configs/nope.py\n```\n'
            '```console\n$ python tools/train.py c\n--printed-by-the-tool configs/nope.py\n```')
    assert check_markdown(text, 'README.md') == []
