"""sdk/python packaging: the sdist ships the generated stubs, and a wheel built from that sdist
alone (no proto/ next to it) installs a working `switchboard` package."""
import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

from harness import SOURCE_DIR

STUBS = ["email_event_pb2.py", "email_event_pb2.pyi", "agent_pb2.py", "agent_pb2.pyi",
         "agent_pb2_grpc.py"]


def test_sdist_ships_stubs_and_builds_a_wheel_without_proto(tmp_path):
    # A copy with the repository's layout (the build hook reads ../../proto).
    stage = tmp_path / "repo"
    shutil.copytree(SOURCE_DIR / "proto", stage / "proto")
    shutil.copytree(SOURCE_DIR / "sdk" / "python", stage / "sdk" / "python",
                    ignore=shutil.ignore_patterns("build", "dist", "*.egg-info"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
                    str(dist), str(stage / "sdk" / "python")], check=True, capture_output=True)
    (sdist,) = dist.glob("switchboard_sdk-0.1.0.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "unpacked")
    for stub in STUBS:
        assert f"switchboard_sdk-0.1.0/src/switchboard/v1/{stub}" in names, stub

    # The unpacked sdist has no proto/ anywhere above it.
    unpacked = tmp_path / "unpacked" / "switchboard_sdk-0.1.0"
    assert not (unpacked.parent.parent / "proto").exists()
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(wheels), str(unpacked)], check=True, capture_output=True)
    (wheel,) = wheels.glob("switchboard_sdk-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
    for stub in STUBS + ["__init__.py"]:
        assert f"switchboard/v1/{stub}" in names, stub
    assert "switchboard/agent.py" in names and "switchboard/py.typed" in names

    # The wheel's package imports on its own (only the wheel on the path, not the venv's copy).
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(target)
    out = subprocess.run(
        [sys.executable, "-c", "import switchboard, switchboard.v1.agent_pb2 as a; "
         "print(switchboard.__file__); print(a.Hello(agent='x').agent)"],
        cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True)
    assert pathlib.Path(out.stdout.splitlines()[0]).is_relative_to(target)
    assert out.stdout.splitlines()[1] == "x"
