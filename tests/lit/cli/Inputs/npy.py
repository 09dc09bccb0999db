#!/usr/bin/env python3
"""Writes and describes small NumPy .npy files for the `attnc run` tests.

Only the standard library (struct), so that the tests need no NumPy.

  npy.py write OUT SHAPE [--dtype <f4] [--fortran] [--version 1] [--drop N]
      SHAPE is comma-separated (1,2,64,64). Floats are a deterministic spread
      in [-1, 1); integers are k // 16 (document ids in blocks of 16).
      --drop N leaves the last N bytes out (a truncated file).
  npy.py describe FILE
      Prints "DTYPE [SHAPE] finite|nonfinite" from the header and data.
"""
import argparse
import ast
import math
import struct
import sys

FORMATS = {"<f2": "e", "<f4": "f", "<f8": "d", ">f4": "f", "<i4": "i", "<i8": "q"}


def element(dtype, k):
    if "i" in dtype:
        return k // 16
    return ((k * 2654435761) % 1000) / 500.0 - 1.0


def header_bytes(dtype, shape, fortran, version):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (dtype, fortran, dims)
    length_format = "<H" if version == 1 else "<I"
    preamble = 8 + struct.calcsize(length_format)
    text += " " * (63 - (preamble + len(text)) % 64) + "\n"
    return (b"\x93NUMPY" + bytes([version, 0]) + struct.pack(length_format, len(text)) +
            text.encode("latin1"))


def write(args):
    shape = [int(d) for d in args.shape.split(",")]
    count = math.prod(shape)
    order = ">" if args.dtype.startswith(">") else "<"
    data = struct.pack(order + FORMATS[args.dtype] * count,
                       *(element(args.dtype, k) for k in range(count)))
    contents = header_bytes(args.dtype, shape, args.fortran, args.version) + data
    with open(args.out, "wb") as f:
        f.write(contents[:len(contents) - args.drop])


def describe(args):
    with open(args.file, "rb") as f:
        contents = f.read()
    version = contents[6]
    length_format = "<H" if version == 1 else "<I"
    start = 8 + struct.calcsize(length_format)
    (length,) = struct.unpack_from(length_format, contents, 8)
    header = ast.literal_eval(contents[start:start + length].decode("latin1"))
    count = math.prod(header["shape"])
    values = struct.unpack_from("<" + FORMATS[header["descr"]] * count, contents, start + length)
    finite = all(math.isfinite(v) for v in values)
    print(header["descr"], list(header["shape"]), "finite" if finite else "nonfinite")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    writer = commands.add_parser("write")
    writer.add_argument("out")
    writer.add_argument("shape")
    writer.add_argument("--dtype", default="<f4", choices=sorted(FORMATS))
    writer.add_argument("--fortran", action="store_const", const="True", default="False")
    writer.add_argument("--version", type=int, default=1, choices=[1, 2, 3])
    writer.add_argument("--drop", type=int, default=0)
    describer = commands.add_parser("describe")
    describer.add_argument("file")
    args = parser.parse_args()
    if args.command == "write":
        write(args)
    else:
        describe(args)


if __name__ == "__main__":
    sys.exit(main())
