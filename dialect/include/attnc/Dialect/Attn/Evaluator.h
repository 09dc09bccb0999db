//===- Evaluator.h - Evaluating attn IR on the CPU ------------------------===//
//
// Runs the element functions of an `attn.pattern` for concrete indices. It
// reads the same IR that code generation reads, so comparing it with the
// reference interpreter (which reads the AST) checks MLIRGen and every pass
// in between; the layout builder uses it to evaluate interval twins.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/Dialect/Attn/AttnOps.h"

#include <map>
#include <optional>
#include <string>

namespace attnc::attn {

/// A value of the IR: i1, i64 or f32, by the type of the SSA value.
struct Scalar {
  int64_t i = 0;
  float f = 0;
  bool b = false;
};

/// A row-major host array bound to an `attn.tensor_param`.
struct TensorData {
  mlir::Type elementType; // i32, i64 or f32
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// The run-time sizes an `attn.dim` reads.
struct Sizes {
  int64_t numHeads = 1, seqQ = 1, seqK = 1, headDim = 64;
};

class PatternEvaluator {
public:
  /// `tensors` binds tensor parameters by name; parameters not yet specialized
  /// read their default values.
  PatternEvaluator(PatternOp pattern, Sizes sizes, std::map<std::string, TensorData> tensors);

  /// Whether query i of head h attends to key j (causal applied, if present).
  mlir::FailureOr<bool> attends(int64_t b, int64_t h, int64_t i, int64_t j);
  mlir::FailureOr<float> bias(int64_t b, int64_t h, int64_t i, int64_t j);
  mlir::FailureOr<float> score(float s, int64_t b, int64_t h, int64_t i, int64_t j);
  /// d score / ds at s (1 without a score rewrite). Needs attn-score-derivative.
  mlir::FailureOr<float> scoreGrad(float s, int64_t b, int64_t h, int64_t i, int64_t j);
  mlir::FailureOr<float> scale();

  /// For one pair, given `value` (scale * q.k, before the bias) and `dLogit`
  /// (d loss / d logit), adds d loss / d element of every f32 tensor element
  /// the bias and score read to grads[slot] (slot: the tensor's position
  /// among the pattern's tensor parameters, as in attnc_tensors), a
  /// row-major array of the tensor's size, or null for no gradient. Indices
  /// out of range add nothing. Needs attn-tensor-grad; a pattern without
  /// attn.tensor_grad adds nothing.
  mlir::LogicalResult tensorGrad(float value, float dLogit, int64_t b, int64_t h, int64_t i,
                                 int64_t j, llvm::ArrayRef<double *> grads);
  /// The slot of tensor parameter `name`, or none.
  std::optional<unsigned> tensorSlot(llvm::StringRef name);

  /// The interval twin that classifies head h's tiles (null when every key is
  /// attended), and whether its answers may differ from head to head.
  struct HeadTwin {
    BoundsOp twin;
    bool perHead = false;
  };
  mlir::FailureOr<HeadTwin> twinOf(int64_t h);

  /// The interval twin of head h's set over a tile of queries [iLo, iHi] and
  /// keys [jLo, jHi]: (may be true, may be false). Needs attn-interval-twin.
  mlir::FailureOr<std::pair<bool, bool>> classify(int64_t h, int64_t iLo, int64_t iHi,
                                                  int64_t jLo, int64_t jHi);
  /// The same with the twin already looked up (for loops over tiles).
  mlir::FailureOr<std::pair<bool, bool>> classify(const HeadTwin &twin, int64_t h, int64_t iLo,
                                                  int64_t iHi, int64_t jLo, int64_t jHi);

  /// Sees every value of a region as it is evaluated (arguments included).
  using Observer = llvm::function_ref<void(mlir::Value, const Scalar &)>;

  /// Evaluates a single-block region of the pattern; returns what it yields.
  /// `grads` receives what attn.grad_accumulate adds, as for tensorGrad.
  mlir::FailureOr<llvm::SmallVector<Scalar>> run(mlir::Region &region,
                                                 llvm::ArrayRef<Scalar> arguments,
                                                 Observer observe = {},
                                                 llvm::ArrayRef<double *> grads = {});

private:
  mlir::FailureOr<Scalar> evalOp(mlir::Operation &op,
                                 const llvm::DenseMap<mlir::Value, Scalar> &values);
  mlir::FailureOr<Scalar> evalAttnOp(mlir::Operation &op,
                                     const llvm::DenseMap<mlir::Value, Scalar> &values);
  mlir::FailureOr<Scalar> evalArith(mlir::Operation &op,
                                    const llvm::DenseMap<mlir::Value, Scalar> &values);
  /// The two results of an interval op (int_range, cmp_range, tensor_range).
  mlir::FailureOr<std::pair<Scalar, Scalar>>
  evalRange(mlir::Operation &op, const llvm::DenseMap<mlir::Value, Scalar> &values);
  mlir::LogicalResult accumulateGrad(GradAccumulateOp op,
                                     const llvm::DenseMap<mlir::Value, Scalar> &values,
                                     llvm::ArrayRef<double *> grads);
  mlir::FailureOr<Scalar> evalIndexed(mlir::Region &region, int64_t b, int64_t h, int64_t i,
                                      int64_t j);
  /// A region over (b, h, i, j, score): attn.score or attn.score_grad.
  mlir::FailureOr<float> evalScoreRegion(mlir::Region &region, float s, int64_t b, int64_t h,
                                         int64_t i, int64_t j);

  PatternOp pattern_;
  Sizes sizes_;
  std::map<std::string, TensorData> tensors_;
};

} // namespace attnc::attn
