"""The package installs with pip, offline, and works from where it was installed.

Debian's own interpreter is used (/usr/bin/python3 with python3-pip, python3-setuptools
and python3-wheel, which tests/scripts/deps.sh installs), since that is the toolchain a
Debian host builds the package with; pip runs with --no-index and --no-build-isolation,
so nothing is fetched. The install goes to a --target directory, and the package is
built from a copy of clients/python, so the build's in-tree leftovers (build/,
*.egg-info) never land in the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PYTHON = "/usr/bin/python3"  # Debian's, whose pip and setuptools deps.sh installs


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="txscope-install-")
        cls.target = os.path.join(cls.tmp, "target")
        source = os.path.join(cls.tmp, "src")
        shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns(
            "tests", "__pycache__", "build", "*.egg-info"))
        # A neutral environment: only the target on the path, no pip config of the
        # machine's (an index, find-links), no user site that could hold a txscope.
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        cls.env.update(PYTHONPATH=cls.target, PYTHONNOUSERSITE="1",
                       PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
        cls.pip = subprocess.run(
            [PYTHON, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
             "--no-index", "--no-cache-dir", "--target", cls.target, source],
            env=cls.env, cwd=cls.tmp, capture_output=True, text=True, timeout=120)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_installed(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Runs argv from the temp dir (not the repository, whose clients/python must
        not be what gets imported) with only the target on PYTHONPATH."""
        return subprocess.run(list(argv), env=self.env, cwd=self.tmp, capture_output=True,
                              text=True, timeout=30)

    def test_pip_installs_it_offline(self) -> None:
        self.assertEqual(self.pip.returncode, 0,
                         "pip failed (tests/scripts/deps.sh installs python3-pip and "
                         "python3-setuptools):\n" + self.pip.stdout + self.pip.stderr)

    def test_every_module_is_installed(self) -> None:
        """A module added to txscope/ but missed by the packaging would be absent."""
        self.assertEqual(self.pip.returncode, 0, self.pip.stderr)
        wanted = sorted(f for f in os.listdir(os.path.join(SOURCE, "txscope"))
                        if f.endswith(".py"))
        installed = sorted(f for f in os.listdir(os.path.join(self.target, "txscope"))
                           if f.endswith(".py"))
        self.assertEqual(installed, wanted)

    def test_it_imports_from_the_target_with_its_metadata(self) -> None:
        self.assertEqual(self.pip.returncode, 0, self.pip.stderr)
        out = self.run_installed(
            PYTHON, "-c", "import importlib.metadata, txscope; print(txscope.__file__); "
            "print(txscope.__version__); print(importlib.metadata.version('txscope')); "
            "print(txscope.ASGIMiddleware.__module__)")
        self.assertEqual(out.returncode, 0, out.stderr)
        path, version, dist_version, middleware = out.stdout.split()
        self.assertEqual(os.path.dirname(os.path.dirname(path)), self.target)
        self.assertEqual(version, dist_version)
        self.assertEqual(middleware, "txscope.middleware")

    def test_the_console_script_and_the_module_run(self) -> None:
        self.assertEqual(self.pip.returncode, 0, self.pip.stderr)
        script = os.path.join(self.target, "bin", "txscope-py")
        self.assertTrue(os.access(script, os.X_OK), os.listdir(self.target))
        for argv in ([script, "--help"], [PYTHON, "-m", "txscope", "--help"]):
            out = self.run_installed(*argv)
            self.assertEqual(out.returncode, 0, (argv, out.stderr))
            self.assertIn("usage:", out.stdout.lower())


if __name__ == "__main__":
    unittest.main()
