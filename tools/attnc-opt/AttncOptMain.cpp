//===- AttncOptMain.cpp - The mlir-opt of attnc ---------------------------===//
//
// Compiled into libattnc with the one copy of MLIR; bin/attnc-opt calls it.
//
//===----------------------------------------------------------------------===//
#include "AttncOptMain.h"
#include "attnc/Dialect/Attn/Passes.h"
#include "attnc/mlirgen/MLIRGen.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int attnc::attncOptMain(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registerAttncDialects(registry);
  attnc::attn::registerAttnPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attnc-opt: runs passes on attn dialect IR\n", registry));
}
