"""Offline stand-in for rules_proto: Bazel 4's own tools load these names from
@rules_proto, and each is Bazel's built-in of the same name."""

proto_lang_toolchain = native.proto_lang_toolchain
proto_library = native.proto_library
ProtoInfo = ProtoInfo
