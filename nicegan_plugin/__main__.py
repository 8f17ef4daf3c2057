"""``python -m nicegan_plugin TOOL [ARGS]``: the project's tool of that name (``train`` runs
``tools/train.py``), from an installed package.

A wheel carries the project's ``tools/`` and ``configs/`` in OpenMMLab's ``.mim`` layout
(``nicegan_plugin/.mim/``, setup.py); a source checkout (editable install) has them beside the
package. An argument ending in ``.py`` that is no file where the command runs but is one of
those (``configs/nicegan_h2z.py``) is given to the tool as that file, as ``mim train`` does,
so ``python -m nicegan_plugin train configs/nicegan_h2z.py`` trains from a shipped config in
any folder. Without a tool name it lists the tools.
"""
import os
import os.path as osp
import runpy
import sys
from typing import List, Optional


def project_files() -> Optional[str]:
    """The folder holding ``tools/`` and ``configs/``: the wheel's ``.mim``, else the checkout."""
    package = osp.dirname(osp.abspath(__file__))
    for root in (osp.join(package, '.mim'), osp.dirname(package)):
        if osp.isdir(osp.join(root, 'tools')) and osp.isdir(osp.join(root, 'configs')):
            return root
    return None


def main(argv: List[str]) -> int:
    root = project_files()
    if root is None:
        print('error: this installation has no tools/ (build the wheel with setup.py, or '
              'install the checkout with pip install -e .)', file=sys.stderr)
        return 1
    tools = sorted(n[:-3] for n in os.listdir(osp.join(root, 'tools')) if n.endswith('.py'))
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: python -m nicegan_plugin TOOL [ARGS]  (TOOL --help for its arguments)\n'
              f'tools ({osp.join(root, "tools")}): {", ".join(tools)}\n'
              f'configs: {osp.join(root, "configs")}')
        return 0
    if argv[0] not in tools:
        print(f'error: no tool {argv[0]!r}; the tools are: {", ".join(tools)}', file=sys.stderr)
        return 2
    args = [osp.join(root, a) if a.endswith('.py') and not osp.isfile(a)
            and osp.isfile(osp.join(root, a)) else a for a in argv[1:]]
    tool = osp.join(root, 'tools', f'{argv[0]}.py')
    sys.argv = [tool, *args]
    runpy.run_path(tool, run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
