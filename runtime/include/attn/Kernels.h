// The device headers of runtime/kernels/ (attnc_builtins.cuh, attnc_layout.cuh,
// ...), embedded in the library at build time (cmake/EmbedFiles.cmake) so that
// NVRTC gets them from memory, with no source tree at run time (DESIGN.md §3).
#pragma once

#include <map>
#include <string>

namespace attn {

// File name (as generated sources #include it) -> content.
const std::map<std::string, std::string> &kernelHeaders();

} // namespace attn
