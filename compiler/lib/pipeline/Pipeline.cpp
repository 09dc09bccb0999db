//===- Pipeline.cpp -------------------------------------------------------===//
#include "attnc/pipeline/Pipeline.h"
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/Transforms/Passes.h"

namespace attnc {

void buildLayoutPipeline(mlir::OpPassManager &pm, const std::vector<std::string> &bindings) {
  mlir::OpPassManager &perPattern = pm.nest<attn::PatternOp>();
  attn::AttnSpecializeOptions specialize;
  specialize.bindings = bindings;
  perPattern.addPass(attn::createAttnSpecialize(specialize));
  perPattern.addPass(attn::createAttnMakeCausalExplicit());
  perPattern.addPass(mlir::createCanonicalizerPass());
  perPattern.addPass(mlir::createCSEPass());
  perPattern.addPass(attn::createAttnHeadClasses());
  perPattern.addPass(attn::createAttnIntervalTwin());
  perPattern.addPass(attn::createAttnScoreDerivative());
  perPattern.addPass(attn::createAttnTensorGrad());
  perPattern.addPass(mlir::createCanonicalizerPass());
  perPattern.addPass(mlir::createCSEPass());
  // The sets in their final form, split into the components the runtime may
  // run instead of the set's own tiles.
  perPattern.addPass(attn::createAttnComponents());
  // Last: the proof is about the IR the code generator reads.
  perPattern.addPass(attn::createAttnNarrowMask());
}

mlir::LogicalResult runLayoutPipeline(mlir::ModuleOp module,
                                      const std::vector<std::string> &bindings) {
  mlir::PassManager pm(module.getContext());
  buildLayoutPipeline(pm, bindings);
  return pm.run(module);
}

} // namespace attnc
