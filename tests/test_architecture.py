"""The package's layering (docs/architecture.md) holds: imports point down only, tools are
thin CLIs without ``sys.path`` edits, tests import neither tools nor other tests, and test
files sit in folders named like the package's parts."""
import ast
import os
import os.path as osp
import re

#: layer of each top-level part of the package; a module may import its own part and
#: parts of lower layers only
LAYERS = {
    'version': 0, 'compat': 0, 'utils': 0,
    'models': 1,
    'official': 2, 'datasets': 2,
    'inference': 3, 'evaluation': 3,
    'visualization': 4, 'deploy': 4,
    'engine': 5,
    'apis': 6, 'deprecated': 6,
    'benchmarks': 7,
    '__init__': 8,
}


def _modules(project_root):
    package = osp.join(project_root, 'nicegan_plugin')
    for root, _, files in os.walk(package):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                yield path, osp.relpath(path, package)[:-3].split(os.sep)


def _imported_parts(path, parts):
    """Top-level package parts that the module at ``path`` imports (anywhere in it)."""
    tree = ast.parse(open(path).read(), path)
    pkg = parts[:-1]  # the module's package, relative to nicegan_plugin
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative
                base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split('.') if node.module else [])
                if not target:  # `from . import x, y` in the package root
                    yield from (a.name for a in node.names)
                else:
                    yield target[0]
            elif node.module and node.module.split('.')[0] == 'nicegan_plugin':
                sub = node.module.split('.')[1:]
                yield sub[0] if sub else '__init__'
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split('.')
                if names[0] == 'nicegan_plugin':
                    yield names[1] if len(names) > 1 else '__init__'


def test_imports_point_down_only(project_root):
    upward = []
    for path, parts in _modules(project_root):
        own = parts[0] if len(parts) > 1 else parts[0]
        assert own in LAYERS, f'{own} (of {path}) has no layer in LAYERS / docs/architecture.md'
        for target in _imported_parts(path, parts):
            if target == own:
                continue
            assert target in LAYERS, f'{path} imports unknown part {target}'
            if LAYERS[target] >= LAYERS[own]:
                upward.append(f'{osp.relpath(path, project_root)} ({own}) -> {target}')
    assert not upward, 'imports that do not point down:\n' + '\n'.join(upward)


def _private_names(project_root):
    """Private names the plugin defines: module-level ``_x`` functions, classes and
    variables, and ``self._x`` attributes and ``_x`` methods of its classes."""
    names = set()
    for path, _ in _modules(project_root):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == 'self' and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith('_') and not n.startswith('__')}


def test_no_module_reads_another_modules_private_names(project_root):
    """What one module needs of another is public API: no ``from .x import _y`` and no
    ``obj._y`` of a private name the plugin defines, except on ``self``/``cls``/``super()``
    (tools included)."""
    private = _private_names(project_root)
    offenders = []
    tools = osp.join(project_root, 'tools')
    tool_files = [osp.join(tools, n) for n in os.listdir(tools) if n.endswith('.py')]
    for path in [p for p, _ in _modules(project_root)] + tool_files:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or '')
                                                     .startswith('nicegan_plugin')):
                offenders += [f'{osp.relpath(path, project_root)} imports {a.name}'
                              for a in node.names if a.name.startswith('_')
                              and not a.name.startswith('__')]
            elif isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ('self', 'cls'):
                    continue
                if isinstance(owner, ast.Call) and getattr(owner.func, 'id', '') == 'super':
                    continue
                offenders.append(f'{osp.relpath(path, project_root)}:{node.lineno} reads '
                                 f'{ast.unparse(node)}')
    assert not offenders, '\n'.join(offenders)


def _test_files(project_root):
    for root, _, files in os.walk(osp.join(project_root, 'tests')):
        yield from (osp.join(root, n) for n in sorted(files) if n.endswith('.py'))


#: an import (or code in a string run by a subprocess) that names a module
IMPORT_LINE = re.compile(r'^\s*(?:from\s+([\w.]+)\s+import\b|import\s+([\w.]+))', re.M)


def _imported_modules(text):
    """Top-level names of the modules that ``text`` imports: its import statements and
    import lines in strings (code a test hands to a subprocess)."""
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split('.')[0])
        elif isinstance(node, ast.ImportFrom):  # relative: a module beside the test
            names.add('.')
        elif isinstance(node, ast.Import):
            names.update(a.name.split('.')[0] for a in node.names)
    names.update('.' if (a or b).startswith('.') else (a or b).split('.')[0]
                 for a, b in IMPORT_LINE.findall(text))
    return names


def test_tools_are_thin_and_tests_import_no_tools(project_root):
    """Tools are thin CLIs; a test imports no tool and no module under tests/ (conftest.py
    and helper modules included: shared things are conftest fixtures, taken as arguments)."""
    offenders = []
    for name in os.listdir(osp.join(project_root, 'tools')):
        if name.endswith('.py'):
            text = open(osp.join(project_root, 'tools', name)).read()
            if 'sys.path' in text:
                offenders.append(f'tools/{name} edits sys.path')
            # every tool ends an error with one line (docs/troubleshooting.md)
            last = ast.parse(text).body[-1]
            calls = [n.func.id for n in ast.walk(last)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
            if not (isinstance(last, ast.If) and '__main__' in ast.unparse(last.test)
                    and calls == ['run_cli']):
                offenders.append(f'tools/{name}: its last statement is not '
                                 "`if __name__ == '__main__': run_cli(main)`")
    test_files = list(_test_files(project_root))
    # what a test could import of tests/: pytest puts each test's folder on sys.path
    local = {'tests', 'tools', '.'} | {osp.basename(p)[:-3] for p in test_files}
    for path in test_files:
        rel = osp.relpath(path, project_root)
        text = open(path).read()
        offenders += [f'{rel} imports {name}' for name in sorted(_imported_modules(text) & local)]
        if re.search(r'sys\.path\.(insert|append|extend)\(', text):
            offenders.append(f'{rel} edits sys.path')
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) in (
                    'spec_from_file_location', 'run_path'):
                offenders.append(f'{rel} loads a module by file path')
    assert not offenders, '\n'.join(offenders)


def test_the_import_check_sees_test_modules():
    """The check above catches the ways a test module reaches another one."""
    code = ('import os\nfrom conftest import ROOT\nimport reliability_helpers as rh\n'
            'from tests.conftest import x\nfrom . import y\n'
            'WORKER = """\nimport sys\nfrom conftest import tiny_model_cfg\n"""\n')
    assert _imported_modules(code) == {'os', 'conftest', 'reliability_helpers', 'tests', '.',
                                       'sys'}


def test_test_folders_mirror_the_package(project_root):
    """Every test folder names a part of the package (tests/<part>/test_*.py)."""
    tests = osp.join(project_root, 'tests')
    folders = [d for d in os.listdir(tests)
               if osp.isdir(osp.join(tests, d)) and d not in ('configs', '__pycache__')]
    assert folders and all(d in LAYERS for d in folders), folders


def test_architecture_page_lists_every_registered_class(project_root):
    """docs/architecture.md names each class the package registers, and only those."""
    registered = set()
    for path, _ in _modules(project_root):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ClassDef) and any(
                    'register_module' in ast.unparse(d) for d in node.decorator_list):
                registered.add(node.name)
    page = open(osp.join(project_root, 'docs', 'architecture.md')).read()
    paragraph = page[page.index('Registered names'):].split('\n\n')[0]
    assert set(re.findall(r'`(NICEGAN\w*)`', paragraph)) == registered
