//===- AttncMain.h - Entry point of the attnc command line ----------------===//
#pragma once

namespace attnc {

/// Runs the `attnc` command line (check, compile, show) and returns its exit status.
int attncMain(int argc, char **argv);

} // namespace attnc
