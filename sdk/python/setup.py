"""The build hook: generates switchboard/v1/*_pb2*.py(i) from the repository's proto/ with
grpcio-tools, into the wheel's build tree and into the sdist (which then needs no proto/)."""
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTOS = ("switchboard/v1/email_event.proto", "switchboard/v1/agent.proto")
STUBS = ("email_event_pb2.py", "agent_pb2.py", "agent_pb2_grpc.py")


def generate(out_root: pathlib.Path) -> None:
    """Writes the stubs under out_root/switchboard/v1/ (imports: `from switchboard.v1 import`)."""
    if not PROTO_ROOT.is_dir():
        # Building from an sdist: the stubs were generated into it already.
        if all((HERE / "src" / "switchboard" / "v1" / stub).is_file() for stub in STUBS):
            return
        raise RuntimeError(f"no proto/ at {PROTO_ROOT} and no generated stubs in src/")
    import grpc_tools
    from grpc_tools import protoc

    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    for proto in PROTOS:
        args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
                f"--python_out={out_root}", f"--pyi_out={out_root}"]
        if proto.endswith("agent.proto"):
            args.append(f"--grpc_python_out={out_root}")
        if protoc.main(args + [proto]) != 0:
            raise RuntimeError(f"protoc failed on {proto}")


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate(pathlib.Path(self.build_lib))


class SdistWithStubs(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        generate(pathlib.Path(base_dir) / "src")


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithStubs})
