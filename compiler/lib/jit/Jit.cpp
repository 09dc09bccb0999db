//===- Jit.cpp - attn::compileFile / compileString ------------------------===//
//
// The compiler half of the JIT API (attn/attn.h): the front end checks the
// pattern, MLIRGen and the layout pipeline specialize it, the CUDA emitter
// writes its kernels, and the result is packed as a plain attn::Bundle that
// the runtime compiles with NVRTC.
//
//===----------------------------------------------------------------------===//
#include "attn/attn.h"

#include "attnc/codegen/CudaEmitter.h"
#include "attnc/frontend/ASTPrinter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Bindings.h"
#include "attnc/layout/Layout.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"

namespace attn {
namespace {

namespace dialect = attnc::attn;

[[noreturn]] void fail(llvm::Error error) { throw Error(llvm::toString(std::move(error))); }

template <typename T> T take(llvm::Expected<T> value) {
  if (!value)
    fail(value.takeError());
  return std::move(*value);
}

ElementType elementTypeOf(mlir::Type type) {
  if (type.isF32())
    return ElementType::F32;
  return type.isInteger(64) ? ElementType::I64 : ElementType::I32;
}

TensorDim::Kind dimKind(dialect::ShapeDim dim) {
  switch (dim) {
  case dialect::ShapeDim::H: return TensorDim::Kind::H;
  case dialect::ShapeDim::Nq: return TensorDim::Kind::Nq;
  case dialect::ShapeDim::Nk: return TensorDim::Kind::Nk;
  case dialect::ShapeDim::D: return TensorDim::Kind::D;
  }
  return TensorDim::Kind::Constant;
}

/// A dimension the runtime can check against a problem: a number or one of
/// the sizes, as left by specialization and folding.
TensorDim tensorDim(mlir::Value size, llvm::StringRef tensor, const std::string &origin) {
  llvm::APInt value;
  if (mlir::matchPattern(size, mlir::m_ConstantInt(&value)))
    return {TensorDim::Kind::Constant, value.getSExtValue()};
  if (auto dim = size.getDefiningOp<dialect::DimOp>())
    return {dimKind(dim.getDim()), 0};
  throw Error(origin + ": tensor '" + tensor.str() +
              "' has a dimension that is neither a number nor one of H, Nq, Nk, D; the GPU "
              "runtime cannot check it");
}

std::vector<BundleTensor> bundleTensors(dialect::PatternOp pattern, const std::string &origin) {
  std::vector<BundleTensor> tensors;
  for (auto tensor : pattern.getBodyBlock().getOps<dialect::TensorParamOp>()) {
    BundleTensor entry{tensor.getSymName().str(), elementTypeOf(tensor.getElementType()), {}};
    auto yield = llvm::cast<dialect::YieldOp>(tensor.getDims().front().getTerminator());
    for (mlir::Value size : yield.getValues())
      entry.dims.push_back(tensorDim(size, tensor.getSymName(), origin));
    tensors.push_back(std::move(entry));
  }
  return tensors;
}

/// Whether the mask (a set or attend region) uses the batch index b, its
/// first region argument.
bool maskReadsBatch(dialect::PatternOp pattern) {
  for (mlir::Operation &op : pattern.getBodyBlock())
    if (llvm::isa<dialect::SetOp, dialect::AttendOp>(op) &&
        !op.getRegion(0).front().getArgument(0).use_empty())
      return true;
  return false;
}

/// The sets of the `heads` statement, by position; empty without one.
std::vector<std::string> headSets(dialect::PatternOp pattern) {
  auto heads = pattern.getUnique<dialect::HeadsOp>();
  return heads ? heads.getSetNames() : std::vector<std::string>();
}

/// The attn.component ops (in IR order, as the emitter numbers them) with
/// their generated functions.
std::vector<BundleComponent> bundleComponents(dialect::PatternOp pattern,
                                              const attnc::KernelSource &kernels) {
  std::vector<BundleComponent> components;
  for (auto op : pattern.getBodyBlock().getOps<dialect::ComponentOp>()) {
    BundleComponent component;
    static_cast<ComponentSpec &>(component) = attnc::layout::componentSpec(op);
    if (auto of = op.getOfAttr())
      component.set = of.getValue().str();
    component.index = op.getIndex();
    const attnc::KernelSource::Component &generated = kernels.components.at(components.size());
    component.attends = generated.attends;
    component.forwardKernel = generated.forwardKernel;
    component.backwardDqKernel = generated.backwardDqKernel;
    component.backwardDkdvKernel = generated.backwardDkdvKernel;
    components.push_back(std::move(component));
  }
  return components;
}

std::string paramsText(const attnc::interp::ParamValues &values) {
  std::string text;
  for (const auto &[name, value] : values)
    text += (text.empty() ? "" : " ") + name + "=" + attnc::formatLiteral(value);
  return text;
}

std::vector<std::string> defines(const CompileOptions &options) {
  std::vector<std::string> result;
  for (const auto &[name, value] : options.params)
    result.push_back(name + "=" + value);
  return result;
}

} // namespace

Bundle compileString(const std::string &source, const CompileOptions &options,
                     const std::string &name) {
  std::string diagnostics;
  llvm::raw_string_ostream diagnosticStream(diagnostics);
  attnc::CheckedFile file = attnc::checkSource(name, source, diagnosticStream);
  if (!file.ok)
    throw Error(llvm::StringRef(diagnostics).rtrim().str());
  const attnc::ast::Pattern *pattern = take(attnc::selectPattern(file, options.pattern));
  attnc::interp::ParamValues values =
      take(attnc::interp::bindParams(*pattern, defines(options)));

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      attnc::mlirGen(context, file.ast, *file.source, pattern, values);
  if (mlir::failed(mlir::verify(*module)) ||
      mlir::failed(attnc::runLayoutPipeline(*module, {})))
    throw Error("internal error: the IR of pattern '" + pattern->name +
                "' does not verify or the layout passes failed");
  auto op = *module->getBody()->getOps<dialect::PatternOp>().begin();
  attnc::KernelSource kernels = take(attnc::emitKernelSource(op));

  Bundle bundle;
  bundle.pattern = pattern->name;
  bundle.origin = name;
  bundle.params = paramsText(values);
  bundle.source = std::move(kernels.source);
  bundle.layoutKernel = kernels.layoutKernel;
  bundle.forwardKernel = kernels.forwardKernel;
  bundle.backwardDqKernel = kernels.backwardDqKernel;
  bundle.backwardDkdvKernel = kernels.backwardDkdvKernel;
  bundle.tensors = bundleTensors(op, name);
  bundle.readsBatch = maskReadsBatch(op);
  bundle.headSets = headSets(op);
  bundle.components = bundleComponents(op, kernels);
  return bundle;
}

Bundle compileFile(const std::string &path, const CompileOptions &options) {
  return compileString(take(attnc::readFile(path)), options, path);
}

} // namespace attn
