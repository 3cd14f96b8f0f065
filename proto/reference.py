#!/usr/bin/python3
"""Writes the API reference (Markdown) from balloon.proto's own comments.

  proto/reference.py > proto/REFERENCE.md

protoc reads the file with its comments (--include_source_info); this walks the descriptors and
prints each service's calls, then each message's fields and each enum's values, with the comment
written above (or beside) each in the proto. tests/proto/reference_test.sh checks that
REFERENCE.md is what this prints.
"""

import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

PROTO_ROOT = os.path.dirname(os.path.abspath(__file__))
SOURCE = "balloon/v1/balloon.proto"

# Paths into FileDescriptorProto, as source_code_info numbers them.
PACKAGE, MESSAGE, ENUM, SERVICE = 2, 4, 5, 6
FIELD, NESTED_MESSAGE, NESTED_ENUM, ENUM_VALUE, METHOD = 2, 3, 4, 2, 2

SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
}


def load():
    with tempfile.NamedTemporaryFile(suffix=".pb") as out:
        subprocess.run(["protoc", "-I", PROTO_ROOT, "--include_source_info",
                        f"--descriptor_set_out={out.name}", SOURCE], check=True)
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read())
    return files.file[0]


class Comments:
    def __init__(self, proto):
        self.by_path = {}
        self.detached = {}  # comments standing alone above an element, kept line by line
        for loc in proto.source_code_info.location:
            text = (loc.leading_comments or loc.trailing_comments).strip()
            if text:
                self.by_path[tuple(loc.path)] = " ".join(line.strip() for line in text.splitlines())
            if loc.leading_detached_comments:
                self.detached[tuple(loc.path)] = [
                    "\n".join(line[1:] if line.startswith(" ") else line
                              for line in block.rstrip().splitlines())
                    for block in loc.leading_detached_comments]

    def __call__(self, path):
        return self.by_path.get(tuple(path), "")


def cell(text):
    return text.replace("|", "\\|")


def type_name(field, package):
    if field.type in SCALARS:
        name = SCALARS[field.type]
    else:
        name = field.type_name.lstrip(".")
        if name.startswith(package + "."):
            name = name[len(package) + 1:]
    return name


def message(out, msg, path, comments, package, prefix="", maps=None):
    name = prefix + msg.name
    out.append(f"### {name}\n")
    if comments(path):
        out.append(comments(path) + "\n")
    nested_maps = {n.name for n in msg.nested_type if n.options.map_entry}
    if msg.field:
        out.append("| Field | Type | Description |")
        out.append("|---|---|---|")
        for i, f in enumerate(msg.field):
            kind = type_name(f, package)
            entry = kind.split(".")[-1]
            if f.label == f.LABEL_REPEATED and entry in nested_maps:
                m = next(n for n in msg.nested_type if n.name == entry)
                kind = f"map<{type_name(m.field[0], package)}, {type_name(m.field[1], package)}>"
            elif f.label == f.LABEL_REPEATED:
                kind = f"repeated {kind}"
            elif f.proto3_optional:
                kind = f"optional {kind}"
            out.append(f"| `{f.name}` = {f.number} | `{kind}` | {cell(comments(path + [FIELD, i]))} |")
        out.append("")
    for i, n in enumerate(msg.nested_type):
        if not n.options.map_entry:
            message(out, n, path + [NESTED_MESSAGE, i], comments, package, name + ".")
    for i, e in enumerate(msg.enum_type):
        enum(out, e, path + [NESTED_ENUM, i], comments, name + ".")


def enum(out, e, path, comments, prefix=""):
    out.append(f"### {prefix}{e.name}\n")
    if comments(path):
        out.append(comments(path) + "\n")
    out.append("| Value | Number | Description |")
    out.append("|---|---|---|")
    for i, v in enumerate(e.value):
        out.append(f"| `{v.name}` | {v.number} | {cell(comments(path + [ENUM_VALUE, i]))} |")
    out.append("")


def main():
    proto = load()
    comments = Comments(proto)
    package = proto.package
    out = [f"# The `{package}` API\n",
           f"Generated from `proto/{SOURCE}` by `proto/reference.py`; edit the proto's comments, "
           "not this file.\n"]
    if comments([PACKAGE]):
        out.append(comments([PACKAGE]) + "\n")
    out.append("## Services\n")
    for s, service in enumerate(proto.service):
        for block in comments.detached.get((SERVICE, s), []):
            out.append(f"```text\n{block}\n```\n")
        out.append(f"### {service.name}\n")
        if comments([SERVICE, s]):
            out.append(comments([SERVICE, s]) + "\n")
        for m, method in enumerate(service.method):
            request = method.input_type.lstrip(".").replace(package + ".", "")
            response = method.output_type.lstrip(".").replace(package + ".", "")
            stream = "stream " if method.server_streaming else ""
            out.append(f"- **`{method.name}`**(`{request}`) → `{stream}{response}`: "
                       f"{comments([SERVICE, s, METHOD, m])}")
        out.append("")
    out.append("## Messages\n")
    for i, msg in enumerate(proto.message_type):
        message(out, msg, [MESSAGE, i], comments, package)
    out.append("## Enums\n")
    for i, e in enumerate(proto.enum_type):
        enum(out, e, [ENUM, i], comments)
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
