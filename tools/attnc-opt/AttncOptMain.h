//===- AttncOptMain.h - Entry point of attnc-opt --------------------------===//
#pragma once

namespace attnc {

/// Runs `attnc-opt` (mlir-opt with the attn dialect and attnc's passes).
int attncOptMain(int argc, char **argv);

} // namespace attnc
