// A kernel bundle: what the compiler hands the runtime (DESIGN.md §3, house
// rules). Plain data, no MLIR: the generated CUDA translation unit and what the
// runtime must know to launch it. `attnc compile --emit=bundle` writes one to a
// file, so a program that links only libattnc_runtime can load it.
#pragma once

#include "attn/ComponentTiles.h"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace attn {

// In a bundle's source, a comment line starting with this names the pattern
// statement the code below it was generated from ("// attnc: <function>, from
// <file:line:col>"); compile errors inside it are reported with that line.
inline constexpr const char *kSourceMarker = "// attnc: ";

enum class ElementType { I32, I64, F32 };

const char *elementTypeName(ElementType type); // "i32", "i64", "f32"
std::size_t elementBytes(ElementType type);

// One dimension of a tensor parameter, as the pattern declares it: a number,
// or one of the run-time sizes.
struct TensorDim {
  enum class Kind { Constant, H, Nq, Nk, D };
  Kind kind = Kind::Constant;
  int64_t value = 0; // Kind::Constant only
};

// "H", "Nq", "Nk", "D" or the number, as the pattern writes the dimension.
std::string tensorDimText(const TensorDim &dim);

// A tensor parameter of the pattern (row-major, in its declaration order).
struct BundleTensor {
  std::string name;
  ElementType type = ElementType::I32;
  std::vector<TensorDim> dims;
};

// One disjoint component of a head class's set (attn.component): its form,
// bands and tile maps, and the device code generated for it.
struct BundleComponent : ComponentSpec {
  std::string set;   // the attn.set it is part of; empty: the attend set
  int64_t index = 0; // its place among that set's components
  // The component's predicate over (b, h, i, j), a __device__ function in
  // `source`: attnc_<p>_component<k>_attends.
  std::string attends;
  // Its extern "C" forward kernel (compiled with -DATTNC_COMPONENTS).
  std::string forwardKernel;
  // Its extern "C" backward kernels (compiled with -DATTNC_COMPONENTS,
  // -DATTNC_BACKWARD and -DATTNC_COMPONENTS_BACKWARD).
  std::string backwardDqKernel, backwardDkdvKernel;
};

struct Bundle {
  std::string pattern;     // the pattern's name
  std::string origin;      // the .pattern file (or "<string>") it came from
  std::string params;      // the bound parameter values, "name=value ..." (messages)
  std::string source;      // one CUDA translation unit, includes kernels/*.cuh
  std::string layoutKernel;  // extern "C" entry points in `source`
  std::string forwardKernel;
  std::string backwardDqKernel; // compiled with -DATTNC_BACKWARD
  std::string backwardDkdvKernel;
  std::vector<BundleTensor> tensors; // in the order the kernels take them
  bool readsBatch = false;           // the mask depends on the batch index b
  // The sets of the `heads` statement: head h uses headSets[h % size]; empty:
  // every head uses the attend set (or attends every key).
  std::vector<std::string> headSets;
  std::vector<BundleComponent> components; // in the order of the IR
};

// The set head h uses (a name of Bundle::headSets, or empty for the attend
// set).
const std::string &headSet(const Bundle &bundle, int64_t h);

// A text format ("attnc-bundle 3", key lines, then the source). readBundle
// throws attn::Error on a malformed or truncated bundle, naming `origin`.
void writeBundle(const Bundle &bundle, std::ostream &os);
Bundle readBundle(std::istream &is, const std::string &origin);

} // namespace attn
