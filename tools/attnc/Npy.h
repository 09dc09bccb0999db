//===- Npy.h - NumPy .npy files for attnc run -----------------------------===//
//
// What `attnc run` exchanges with Python: arrays in NumPy's .npy format
// (versions 1.0, 2.0 and 3.0), little-endian, C order, of the few element
// types attention needs. Errors name the file and say what is accepted.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::npy {

enum class DType { F16, F32, I32, I64 };

const char *dtypeDescr(DType dtype); // "<f2", "<f4", "<i4", "<i8"
const char *dtypeName(DType dtype);  // "float16", "float32", "int32", "int64"
std::size_t dtypeBytes(DType dtype);

struct Array {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string data; // the elements in C order, little-endian, as stored

  int64_t elements() const;
};

/// "[2, 3]"
std::string shapeText(llvm::ArrayRef<int64_t> shape);

/// Decodes the bytes of an .npy file; `name` (the file) heads every error.
llvm::Expected<Array> parse(llvm::StringRef bytes, llvm::StringRef name);
llvm::Expected<Array> readFile(const std::string &path);

/// The elements at `data` (C order, little-endian, as many as `shape`
/// holds) as the bytes of a version 1.0 .npy file.
std::string encode(DType dtype, llvm::ArrayRef<int64_t> shape, const void *data);

/// A float32 array as the bytes of a version 1.0 .npy file.
std::string encodeF32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> values);

} // namespace attnc::npy
