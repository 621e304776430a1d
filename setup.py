"""Build the Cython core (csrc/*.pyx) into redun_fast._*; everything else is in pyproject.toml.

Compiled classes shared between modules are declared in redun_fast/*.pxd (cimported by name).
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension("redun_fast._core", ["csrc/_core.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._expression", ["csrc/_expression.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._nested", ["csrc/_nested.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._unpickle", ["csrc/_unpickle.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._records", ["csrc/_records.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._graph", ["csrc/_graph.pyx"], extra_compile_args=["-O2"]),
    Extension("redun_fast._scheduler_nodes", ["csrc/_scheduler_nodes.pyx"],
              extra_compile_args=["-O2"]),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        # Bounds checks stay on (they cost nothing measurable here): the hot loops index
        # Python lists and tuples, where a wrong index must be an IndexError, not a crash.
    ),
)
