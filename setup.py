"""Build hook: the wheel ships the repo's top-level suites/ as carverify/_suites (package data).

The repo keeps suites/ at the top level (suites are data, not a package); carverify.suite
finds them there in a checkout and in carverify/_suites once installed from a wheel.
"""
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSuites(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return   # an editable install reads suites/ from the checkout
        source = pathlib.Path(__file__).resolve().parent / "suites"
        target = pathlib.Path(self.build_lib) / "carverify" / "_suites"
        shutil.copytree(source, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildWithSuites})
