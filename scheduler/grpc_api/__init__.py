"""The thin gRPC surface: protobuf <-> domain, domain errors <-> status codes."""
