"""pytest wiring: the built binaries come from --switchboard / --switchboardctl (run_tests.sh
passes them from the CMake build); each test gets its own router in its own temp folder."""
import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import Router  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--switchboard", default=os.environ.get("SWITCHBOARD_BIN"),
                     help="path of the built router binary")
    parser.addoption("--switchboardctl", default=os.environ.get("SWITCHBOARDCTL_BIN"),
                     help="path of the built switchboardctl binary")


@pytest.fixture(scope="session")
def binaries(pytestconfig):
    router = pytestconfig.getoption("--switchboard")
    ctl = pytestconfig.getoption("--switchboardctl")
    for what, path in (("--switchboard", router), ("--switchboardctl", ctl)):
        if not path or not os.access(path, os.X_OK):
            pytest.fail(f"{what}: no executable at {path!r} (build the targets first)")
    return os.path.abspath(router), os.path.abspath(ctl)


@pytest.fixture
def make_router(binaries, tmp_path):
    """make_router(agents={name: token}, rules=[...], ack_deadline="30s") -> a started Router;
    killed after the test."""
    routers = []

    def make(agents, rules, **options):
        workdir = tmp_path / f"router{len(routers)}"
        workdir.mkdir()
        router = Router(binaries[0], binaries[1], workdir, agents, rules, **options)
        routers.append(router)
        return router.start()

    yield make
    for router in routers:
        router.kill()
