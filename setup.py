"""Build the Cython core (csrc/*.pyx) into redun_fast._*; everything else is in pyproject.toml.

Compiled classes shared between modules are declared in redun_fast/*.pxd (cimported by name).
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

MODULES = ["_status", "_core", "_expression", "_nested", "_unpickle", "_records", "_graph",
           "_ledger", "_scheduler_nodes", "_dispatch"]
extensions = [Extension(f"redun_fast.{name}", [f"csrc/{name}.pyx"], extra_compile_args=["-O2"])
              for name in MODULES]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        # Bounds checks stay on (they cost nothing measurable here): the hot loops index
        # Python lists and tuples, where a wrong index must be an IndexError, not a crash.
    ),
)
