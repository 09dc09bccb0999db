//===- Listing.h - attnc-bench --list: the expanded cases as JSON ---------===//
//
// What other programs (bench/compare_peers.py) read to run exactly the cases
// of a suite with exactly the same pattern tensors; the format is documented
// in bench/README.md. Needs no GPU.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Bundles.h"
#include "CaseTensors.h"
#include "Suite.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace attnc::bench {

/// The case's tensors, or attn::Error naming the suite file and the case.
std::vector<CaseTensor> tensorsOf(const Suite &suite, const Case &c, BundleCache &bundles);

/// The case's fields shared by the listing and the report: id, pattern,
/// params (numbers where the text is one), B, H, Hkv, N, D, dtype.
llvm::json::Object caseFields(const Case &c);

/// Writes the listing to `os`; with `tensorsDir` not empty, also each case's
/// tensors as .npy files in it (created if needed). Throws attn::Error.
void printListing(const Suite &suite, BundleCache &bundles, const std::string &tensorsDir,
                  llvm::raw_ostream &os);

} // namespace attnc::bench
