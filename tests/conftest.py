"""Shared pytest fixtures for every test that runs the modpop3d binary.

meson test passes the paths in the environment (see tests/meson.build):
MODPOP3D_BINARY, MODPOP3D_BUILD_ROOT, MODPOP3D_SOURCE_ROOT,
MODPOP3D_TEST_MODULE_DIR and MODPOP3D_INSTALLED_MODULEDIR.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through 'meson test'")
    return value


@pytest.fixture(scope="session")
def binary():
    return _env("MODPOP3D_BINARY")


@pytest.fixture(scope="session")
def source_root():
    return pathlib.Path(_env("MODPOP3D_SOURCE_ROOT"))


@pytest.fixture(scope="session")
def build_root():
    return pathlib.Path(_env("MODPOP3D_BUILD_ROOT"))


@pytest.fixture(scope="session")
def test_module_dir():
    return _env("MODPOP3D_TEST_MODULE_DIR")


@pytest.fixture(scope="session")
def stage(build_root, tmp_path_factory):
    """A staged 'meson install --destdir' of this build, as a packager makes
    it. Returns the stage root; installed paths sit below it."""
    root = tmp_path_factory.mktemp("stage")
    subprocess.run(
        ["meson", "install", "-C", str(build_root), "--no-rebuild", "--quiet",
         "--destdir", str(root)],
        check=True, stdout=subprocess.DEVNULL)
    os.chmod(root, 0o755)
    return root


@pytest.fixture(scope="session")
def staged_module_dir(stage):
    return str(stage) + _env("MODPOP3D_INSTALLED_MODULEDIR")


def run(binary, *args, timeout=30):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def workdir():
    path = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
