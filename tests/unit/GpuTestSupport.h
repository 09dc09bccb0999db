//===- GpuTestSupport.h - What the GPU unit tests share -------------------===//
#pragma once

#include "attnc/layout/Layout.h"

#include "attn/Driver.h"
#include "attn/Error.h"
#include "attn/Layout.h"

#include <gtest/gtest.h>

#include <string>

/// Skips the test, visibly, with the runtime's reason ("no CUDA driver/GPU
/// found: ...") on a machine without a GPU.
#define SKIP_WITHOUT_GPU()                                                     \
  try {                                                                        \
    ::attn::deviceInfo();                                                      \
  } catch (const ::attn::Error &error) {                                       \
    GTEST_SKIP() << error.what();                                              \
  }

namespace attnc::test {

/// The number of (head, query tile) rows (by key: (head, key tile) rows)
/// where the GPU layout differs from the CPU one; the first few are reported as failures naming `where`.
/// The rows of `emptyHeads` (heads the forward runs through their components)
/// must be empty on the GPU instead.
int64_t countLayoutMismatches(const layout::Layout &cpu, const ::attn::GpuLayout &gpu,
                              const std::string &where,
                              const std::vector<int32_t> &emptyHeads = {});

} // namespace attnc::test
