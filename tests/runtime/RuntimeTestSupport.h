// What the runtime tests share: a kernel to compile and a scratch folder.
#pragma once

#include "attn/Nvrtc.h"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace attn::testing {

// out[i] = i * 3 + 1, with the constants coming from an in-memory header so
// that header passing is exercised by every compile.
inline CompileRequest fillKernel(const std::string &arch, BinaryKind kind) {
  CompileRequest request;
  request.name = "fill.cu";
  request.headers["fill_constants.h"] = "#define FILL_SCALE 3u\n#define FILL_OFFSET 1u\n";
  request.source = R"(#include "fill_constants.h"
extern "C" __global__ void fill(unsigned *out, unsigned n) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = i * FILL_SCALE + FILL_OFFSET;
}
)";
  request.arch = arch;
  request.kind = kind;
  return request;
}

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "attnc-runtime-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace attn::testing
