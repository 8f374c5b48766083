import subprocess
import sys


def test_training_package_imports_without_qt():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph'):\n"
        "            raise ImportError('Qt is not allowed in studio.training')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import studio.training, studio.cli.train, studio.training.trainer\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")
