"""The package: built core present, and a clear error when it was never built."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import redun_fast


def test_core_is_compiled():
    assert Path(redun_fast._core.__file__).suffix in {".so", ".pyd"}


def test_import_without_built_core_says_how_to_build(tmp_path):
    source = Path(redun_fast.__file__).parent
    shutil.copytree(source, tmp_path / "redun_fast",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    result = subprocess.run(
        # -S: no site-packages, so an installed (e.g. editable) redun_fast cannot supply _core.
        [sys.executable, "-S", "-c", "import redun_fast"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "redun_fast's compiled core (redun_fast._core) is missing" in result.stderr
    assert "pip install -e ." in result.stderr
