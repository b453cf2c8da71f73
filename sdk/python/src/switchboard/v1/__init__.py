"""Generated protobuf and gRPC stubs of proto/switchboard/v1 (made when the package is built)."""
