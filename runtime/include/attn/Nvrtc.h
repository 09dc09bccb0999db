// Compiling CUDA C++ with NVRTC to PTX or CUBIN. Needs no GPU and no driver.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace attn {

enum class BinaryKind { Ptx, Cubin };

struct CompileRequest {
  std::string name = "kernel.cu"; // the file name NVRTC reports in its log
  std::string source;
  std::map<std::string, std::string> headers; // include name -> content
  std::vector<std::string> options;           // added after the defaults
  std::string arch = "sm_80";                 // sm_<digits>[a|f], e.g. sm_90a
  BinaryKind kind = BinaryKind::Cubin;
};

struct Binary {
  BinaryKind kind = BinaryKind::Cubin;
  std::string bytes; // PTX text or CUBIN image
};

// Every option NVRTC gets for the request: -std=c++17, -arch (compute_XX for
// PTX, sm_XX for CUBIN), the toolkit include folder and its cccl/ (from
// $ATTNC_CUDA_INCLUDE, else the toolkit found at build time), --no-cache
// (NVRTC's own cache off: attnc's KernelCache is the one), then
// request.options. Throws attn::Error on a malformed arch.
std::vector<std::string> nvrtcOptions(const CompileRequest &request);

// Throws attn::Error holding NVRTC's full log when compilation fails; each
// error line inside code marked with a kSourceMarker comment (attn/Bundle.h)
// is followed by that comment, which names the pattern statement.
Binary compileWithNvrtc(const CompileRequest &request);

// "13.0" for NVRTC 13.0.
std::string nvrtcVersion();

} // namespace attn
