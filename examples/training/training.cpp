//===- training.cpp - learning ALiBi's slopes through attnc's backward ----===//
//
//   attnc-example-training
//
// A small training loop built on attnc's API alone. The teacher is ALiBi
// (patterns/alibi.pattern): head h adds -m_h * (i - j) to its logits, with
// the paper's slopes m_h = 2^-1 ... 2^-8 for 8 heads. The learner is
// patterns/relative_bias.pattern, whose bias is a learned table:
// table[h, min(i - j, K - 1)], causal, all zeros at the start. Each step
// draws new random bf16 Q, K and V, runs both forwards, takes the loss
//
//   L = mean((O_learner - O_teacher)^2)
//
// and its gradient dO = 2 (O_learner - O_teacher) / count, runs the learner's
// backward, which returns d L / d table, and moves the table with Adam. The
// loss falls, and each head's table comes to follow a line of slope -m_h:
// the program prints the loss every 25 steps and, at the end, the slope of
// each head's table (a least-squares fit) next to m_h.
//
// Why the table should come out as -m_h * d: K = N (one entry per distance,
// no clipping), so table[h, d] = -m_h * d reproduces the teacher exactly. A
// softmax does not change when every logit of a row moves by one constant,
// and every row of a causal pattern reads distances 0 ... i of the same
// table, so only differences between entries are learned: the fit has an
// intercept and entries are shown as table[h, d] - table[h, 0]. Distances
// where the teacher's weight exp(-m_h * d) is negligible carry (almost) no
// gradient, so steep heads are fitted over the distances that matter only.
//
// Besides attnc's calls, the loop needs three kernels of its own (random
// numbers, the loss, the Adam update). They are CUDA source below, compiled
// at run time with NVRTC and launched through the runtime's driver wrappers
// (attn/Nvrtc.h, attn/Module.h), as attnc's own kernels are: the program
// links no CUDA runtime and needs no nvcc.
//
// Exit status: 0 when the loss fell and the slopes came out right, 1 on an
// error or when they did not (the numbers are printed), 2 when there is no
// CUDA driver or GPU (the example's kernels are still compiled, for sm_80
// PTX, so that a machine without a GPU checks them too).
//
//===----------------------------------------------------------------------===//
#include "attn/attn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

// Batch, heads, tokens and head dim of every step. 8 heads give ALiBi's
// slopes 2^-1 ... 2^-8.
constexpr int64_t kBatch = 4, kHeads = 8, kSeq = 256;
constexpr int kHeadDim = 64;
// The learner's table has one entry per distance: relative_bias's K = N.
constexpr int64_t kTableLength = kSeq;
constexpr int64_t kCount = kBatch * kHeads * kSeq * kHeadDim; // elements of O

// Adam: each entry moves by about the learning rate per step whatever the
// scale of its gradient, which here depends on B, H, N, D and on how far
// back the entry lies (far entries are read by fewer pairs). Plain SGD
// would need a rate tuned to that scale, and one rate would not fit the
// steep heads and the shallow ones at once. The rate decays along a cosine
// to a tenth of its start, so that the last steps settle.
constexpr int kSteps = 400, kPrintEvery = 25;
constexpr float kLearningRate = 0.05f, kFinalRateFraction = 0.1f;
constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;

// A head's slope is fitted over d < kFitWeight / m_h (and d < N): beyond,
// the teacher's weight exp(-m_h * d) < exp(-kFitWeight) leaves the loss
// nearly blind to the table, whose entries there settle slowly, if at all.
// (In a NumPy model of this loop, bf16 rounding included, 300 steps put the
// slopes fitted over this range within 15% of m_h, and the entries at d <= 4
// within 2% of -m_h * d; the loss fell to 0.25% of its start.)
constexpr double kFitWeight = 4;
// The table entries printed next to -m_h * d.
constexpr int64_t kShownDistances[] = {1, 2, 4, 8};

// The demo's own sanity checks (not the test suite's): the loss must end
// below this fraction of where it started, and the fitted slopes must be
// positive, fall from head to head as ALiBi's do, and lie within this
// factor of m_h.
constexpr double kMaxFinalLossFraction = 0.1;
constexpr double kSlopeFactor = 1.5;

//===----------------------------------------------------------------------===//
// The example's kernels
//===----------------------------------------------------------------------===//

// bf16 values are handled as their bits (the upper half of a float32), so
// the source needs no header; conversions round to nearest even, as the GPU's
// own do. Every kernel loops over its elements with a grid stride.
const char *const kKernelSource = R"(
__device__ float bf16ToFloat(unsigned short bits) {
  return __uint_as_float((unsigned)bits << 16);
}

__device__ unsigned short floatToBf16(float value) { // finite values only
  unsigned bits = __float_as_uint(value);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return (unsigned short)(bits >> 16);
}

// SplitMix64's finalizer: a counter-based generator, one draw per index.
__device__ unsigned long long mix(unsigned long long x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// out[n] ~ N(0, 1) in bf16 (Box-Muller on two 24-bit uniforms of one draw).
extern "C" __global__ void training_normal(unsigned short *out, long long count,
                                           unsigned long long seed) {
  for (long long n = blockIdx.x * (long long)blockDim.x + threadIdx.x; n < count;
       n += (long long)gridDim.x * blockDim.x) {
    unsigned long long r = mix(mix(seed) + (unsigned long long)n);
    float u1 = (float)((r >> 40) + 1) * (1.0f / 16777216.0f); // (0, 1]
    float u2 = (float)((r >> 16) & 0xFFFFFFull) * (1.0f / 16777216.0f);
    out[n] = floatToBf16(sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
  }
}

// *loss += mean((learner - teacher)^2), and dO = gradScale * (learner -
// teacher) in bf16. Blocks of 256 threads; each adds its partial sum once.
extern "C" __global__ void training_loss(const unsigned short *learner,
                                         const unsigned short *teacher, unsigned short *dO,
                                         long long count, float gradScale, double *loss) {
  double sum = 0;
  for (long long n = blockIdx.x * (long long)blockDim.x + threadIdx.x; n < count;
       n += (long long)gridDim.x * blockDim.x) {
    float diff = bf16ToFloat(learner[n]) - bf16ToFloat(teacher[n]);
    dO[n] = floatToBf16(gradScale * diff);
    sum += (double)diff * diff;
  }
  __shared__ double warps[8];
  for (int offset = 16; offset > 0; offset /= 2)
    sum += __shfl_down_sync(0xFFFFFFFFu, sum, offset);
  if (threadIdx.x % 32 == 0)
    warps[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double block = 0;
    for (int w = 0; w < 8; ++w)
      block += warps[w];
    atomicAdd(loss, block / (double)count);
  }
}

// One Adam step on every entry; correction1 and correction2 are
// 1 - beta1^t and 1 - beta2^t.
extern "C" __global__ void training_adam(float *param, const float *grad, float *m, float *v,
                                         int count, float rate, float beta1, float beta2,
                                         float epsilon, float correction1,
                                         float correction2) {
  for (int n = blockIdx.x * blockDim.x + threadIdx.x; n < count; n += gridDim.x * blockDim.x) {
    float g = grad[n];
    float mean = beta1 * m[n] + (1.0f - beta1) * g;
    float square = beta2 * v[n] + (1.0f - beta2) * g * g;
    m[n] = mean;
    v[n] = square;
    param[n] -= rate * (mean / correction1) / (sqrtf(square / correction2) + epsilon);
  }
}
)";

constexpr unsigned kThreads = 256; // training_loss's reduction assumes 256
constexpr unsigned kMaxBlocks = 1024;

unsigned blocksFor(int64_t count) {
  return static_cast<unsigned>(std::min<int64_t>((count + kThreads - 1) / kThreads, kMaxBlocks));
}

// Through the kernel cache, like attnc's own kernels: NVRTC compiles the
// source once per architecture and driver, later runs read it from disk.
attn::Binary compileKernels(const std::string &arch, attn::BinaryKind kind) {
  attn::CompileRequest request;
  request.name = "attnc_example_training.cu";
  request.source = kKernelSource;
  request.arch = arch;
  request.kind = kind;
  return attn::defaultKernelCache().get(request);
}

class TrainingKernels {
public:
  TrainingKernels()
      : module_(compileKernels("sm_" + std::to_string(attn::deviceInfo().computeCapability),
                               attn::BinaryKind::Cubin)
                    .bytes),
        normal_(module_.function("training_normal")), loss_(module_.function("training_loss")),
        adam_(module_.function("training_adam")) {}

  // `buffer` (bf16) filled with N(0, 1) values; a seed gives one set.
  void normal(const attn::DeviceBuffer &buffer, uint64_t seed) const {
    attn::CUdeviceptr out = buffer.pointer();
    long long count = static_cast<long long>(buffer.size() / sizeof(uint16_t));
    unsigned long long seedArg = seed;
    void *params[] = {&out, &count, &seedArg};
    attn::launch(normal_, {blocksFor(count)}, {kThreads}, params, 0, nullptr);
  }

  // Adds the mean squared difference to the double at `loss`; writes dO.
  void loss(const attn::DeviceBuffer &learner, const attn::DeviceBuffer &teacher,
            const attn::DeviceBuffer &dO, attn::CUdeviceptr loss) const {
    attn::CUdeviceptr learnerArg = learner.pointer(), teacherArg = teacher.pointer(),
                      dOArg = dO.pointer();
    long long count = kCount;
    float gradScale = 2.0f / static_cast<float>(kCount);
    void *params[] = {&learnerArg, &teacherArg, &dOArg, &count, &gradScale, &loss};
    attn::launch(loss_, {blocksFor(count)}, {kThreads}, params, 0, nullptr);
  }

  // Adam's step `step` (from 1) on fp32 `param` with its moments m and v.
  void adam(const attn::DeviceBuffer &param, const attn::DeviceBuffer &grad,
            const attn::DeviceBuffer &m, const attn::DeviceBuffer &v, int step,
            float rate) const {
    attn::CUdeviceptr paramArg = param.pointer(), gradArg = grad.pointer(),
                      mArg = m.pointer(), vArg = v.pointer();
    int count = static_cast<int>(param.size() / sizeof(float));
    float beta1 = kBeta1, beta2 = kBeta2, epsilon = kEpsilon;
    float correction1 = 1.0f - std::pow(kBeta1, static_cast<float>(step));
    float correction2 = 1.0f - std::pow(kBeta2, static_cast<float>(step));
    void *params[] = {&paramArg, &gradArg, &mArg, &vArg, &count, &rate,
                      &beta1, &beta2, &epsilon, &correction1, &correction2};
    attn::launch(adam_, {blocksFor(count)}, {kThreads}, params, 0, nullptr);
  }

private:
  attn::Module module_;
  attn::CUfunction normal_, loss_, adam_;
};

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

// ALiBi's slope of head h of H (a power of two), as the pattern's
// alibi_slope computes it: 2^(-8 (h + 1) / H).
double alibiSlope(int64_t h) { return std::exp2(-8.0 * static_cast<double>(h + 1) / kHeads); }

// The cosine decay from kLearningRate to kFinalRateFraction of it.
float learningRate(int step) {
  double progress = static_cast<double>(step) / kSteps;
  constexpr double kPi = 3.14159265358979323846;
  double cosine = 0.5 * (1 + std::cos(kPi * progress));
  return static_cast<float>(kLearningRate * (kFinalRateFraction + (1 - kFinalRateFraction) * cosine));
}

// The slope s of the least-squares line table[d] ~ c - s * d over d < count.
double fittedSlope(const float *table, int64_t count) {
  double meanD = 0, meanT = 0;
  for (int64_t d = 0; d < count; ++d) {
    meanD += d;
    meanT += table[d];
  }
  meanD /= count;
  meanT /= count;
  double covariance = 0, variance = 0;
  for (int64_t d = 0; d < count; ++d) {
    covariance += (d - meanD) * (table[d] - meanT);
    variance += (d - meanD) * (d - meanD);
  }
  return -covariance / variance;
}

// A bf16 [B, H, N, D] tensor of the problem, on the device.
struct Operand {
  attn::DeviceBuffer buffer{kCount * sizeof(uint16_t)};
  attn::Tensor tensor = attn::Tensor::bhnd(buffer.pointer(), attn::DType::BF16, kBatch, kHeads,
                                           kSeq, kHeadDim);
};

int train(const attn::Bundle &teacherBundle, const attn::Bundle &learnerBundle) {
  attn::DeviceInfo gpu = attn::deviceInfo();
  std::printf("GPU: %s (sm_%d)\n", gpu.name.c_str(), gpu.computeCapability);
  attn::Attention teacher(teacherBundle, attn::DType::BF16, kHeadDim);
  attn::KernelOptions withBackward;
  withBackward.backward = true;
  attn::Attention learner(learnerBundle, attn::DType::BF16, kHeadDim, nullptr, withBackward);
  TrainingKernels kernels;

  // The learned table, its gradient and Adam's moments: fp32 [H, K], zeros.
  const std::size_t tableBytes = kHeads * kTableLength * sizeof(float);
  attn::DeviceBuffer table(tableBytes), tableGrad(tableBytes), moment1(tableBytes),
      moment2(tableBytes);
  for (attn::DeviceBuffer *buffer : {&table, &moment1, &moment2})
    buffer->fillBytes(0);

  // relative_bias's mask is `causal;` alone (the table is read only by
  // `bias`), so its tile lists do not depend on the table's values: one
  // layout serves every step. It holds the table's address, and the kernels
  // read the current values at each call.
  attn::Problem problem{kBatch, kHeads, kHeads, kSeq, kSeq};
  attn::BlockLayout teacherLayout = teacher.layout(problem);
  attn::BlockLayout learnerLayout =
      learner.layout(problem, {{table.pointer(), {kHeads, kTableLength}}});

  Operand q, k, v, teacherO, learnerO, dO, dq, dk, dv;
  attn::DeviceBuffer learnerLse(kBatch * kHeads * kSeq * sizeof(float));
  attn::DeviceBuffer losses(kSteps * sizeof(double)); // one mean per step
  losses.fillBytes(0);
  std::vector<double> lossHost(kSteps);

  std::printf("teacher: alibi; learner: relative_bias with K = N = %lld (a table entry per "
              "distance, so -m_h * d fits exactly), table = 0 at the start\n"
              "B = %lld, H = %lld, N = %lld, D = %d, bf16, new random Q, K, V each step; "
              "Adam, learning rate %.3g decaying to %.3g over %d steps\n",
              static_cast<long long>(kTableLength), static_cast<long long>(kBatch),
              static_cast<long long>(kHeads), static_cast<long long>(kSeq), kHeadDim,
              kLearningRate, kLearningRate * kFinalRateFraction, kSteps);
  // Everything runs in order on the default stream; downloading the losses
  // waits for the steps before.
  auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < kSteps; ++step) {
    uint64_t seed = 3 * static_cast<uint64_t>(step);
    kernels.normal(q.buffer, seed);
    kernels.normal(k.buffer, seed + 1);
    kernels.normal(v.buffer, seed + 2);
    teacher.forward(teacherLayout, q.tensor, k.tensor, v.tensor, teacherO.tensor, 0);
    learner.forward(learnerLayout, q.tensor, k.tensor, v.tensor, learnerO.tensor,
                    learnerLse.pointer());
    kernels.loss(learnerO.buffer, teacherO.buffer, dO.buffer,
                 losses.pointer() + step * sizeof(double));
    // Only the table's gradient is used; dq, dk and dv are written anyway.
    learner.backward(learnerLayout, q.tensor, k.tensor, v.tensor, learnerO.tensor,
                     learnerLse.pointer(), dO.tensor,
                     attn::Gradients{dq.tensor, dk.tensor, dv.tensor, {tableGrad.pointer()}});
    kernels.adam(table, tableGrad, moment1, moment2, step + 1, learningRate(step));
    if (step % kPrintEvery == 0 || step == kSteps - 1) {
      losses.download(lossHost.data());
      std::printf("step %4d  loss %.6g  (%.2f%% of the first)\n", step, lossHost[step],
                  100 * lossHost[step] / lossHost[0]);
    }
  }

  std::vector<float> learned(kHeads * kTableLength);
  table.download(learned.data());
  std::printf("%d steps in %.2f s\n", kSteps,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::printf("\nper head: ALiBi's slope m_h, the learned slope (least squares over d < "
              "min(N, %.0f / m_h)), and table[h, d] - table[h, 0] next to -m_h * d\n",
              kFitWeight);
  std::printf("head  m_h        learned    ratio  | table vs -m_h * d at d =");
  for (int64_t d : kShownDistances)
    std::printf(" %lld", static_cast<long long>(d));
  std::printf("\n");
  std::vector<double> fitted(kHeads);
  for (int64_t h = 0; h < kHeads; ++h) {
    const float *row = learned.data() + h * kTableLength;
    double slope = alibiSlope(h);
    int64_t fitCount =
        std::min<int64_t>(kTableLength, static_cast<int64_t>(std::ceil(kFitWeight / slope)));
    fitted[h] = fittedSlope(row, fitCount);
    std::printf("%-4lld  %-9.6f  %-9.6f  %-5.3f", static_cast<long long>(h), slope, fitted[h],
                fitted[h] / slope);
    for (int64_t d : kShownDistances)
      std::printf("  | %7.3f %7.3f", row[d] - row[0], -slope * d);
    std::printf("\n");
  }

  // The demo's sanity checks; the test suite checks the kernels themselves.
  std::fflush(stdout); // the numbers above come before any complaint below
  double lossFraction = lossHost[kSteps - 1] / lossHost[0];
  bool ok = lossFraction < kMaxFinalLossFraction;
  if (!ok)
    std::fprintf(stderr,
                 "attnc-example-training: the loss fell only to %.3g of its start (%.6g -> "
                 "%.6g); expected below %.3g\n",
                 lossFraction, lossHost[0], lossHost[kSteps - 1], kMaxFinalLossFraction);
  for (int64_t h = 0; h < kHeads; ++h) {
    double ratio = fitted[h] / alibiSlope(h);
    bool inRange = ratio > 1 / kSlopeFactor && ratio < kSlopeFactor;
    bool falling = h == 0 || fitted[h] < fitted[h - 1];
    if (!inRange || !falling) {
      std::fprintf(stderr,
                   "attnc-example-training: head %lld's learned slope %.6g is %s (m_h = "
                   "%.6g, allowed factor %.3g; previous head's learned slope %.6g)\n",
                   static_cast<long long>(h), fitted[h],
                   !inRange ? "too far from m_h" : "not below the previous head's",
                   alibiSlope(h), kSlopeFactor, h ? fitted[h - 1] : 0.0);
      ok = false;
    }
  }
  std::printf("%s\n", ok ? "the learned slopes follow ALiBi's" : "FAILED (see above)");
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1) {
    std::fprintf(stderr, "usage: %s (no arguments)\n", argv[0]);
    return 1;
  }
  attn::Bundle teacher, learner;
  try {
    // Compiling needs no GPU; neither does NVRTC.
    teacher = attn::compileFile(ATTNC_EXAMPLE_PATTERNS "/alibi.pattern");
    learner = attn::compileFile(ATTNC_EXAMPLE_PATTERNS "/relative_bias.pattern",
                                {"", {{"K", std::to_string(kTableLength)}}});
    if (!attn::gpuAvailable()) {
      compileKernels("sm_80", attn::BinaryKind::Ptx); // checks the source compiles
      std::printf("the example's kernels compile (NVRTC, sm_80 PTX)\n");
    }
  } catch (const attn::Error &error) {
    std::fflush(stdout); // what was printed comes first in a shared log
    std::fprintf(stderr, "attnc-example-training: %s\n", error.what());
    return 1;
  }

  try {
    return train(teacher, learner);
  } catch (const attn::Error &error) {
    std::fflush(stdout); // what was printed comes first in a shared log
    std::fprintf(stderr, "attnc-example-training: %s\n", error.what());
    // Without a driver or GPU, the first GPU call says so ("no CUDA
    // driver/GPU found: ..."): exit 2, which ctest reports as skipped.
    return attn::gpuAvailable() ? 1 : 2;
  }
}
