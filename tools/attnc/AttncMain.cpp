//===- AttncMain.cpp - The attnc command-line compiler --------------------===//
//
//   attnc check FILE...
//   attnc compile FILE --emit=ast|mlir|cuda|ptx|cubin|bundle [-p NAME] [-D name=value ...]
//                [--arch sm_80] [--dtype bf16|fp16] [--head-dim 64|128] [--backward]
//                [-o OUT]
//   attnc show FILE [-p NAME] [-D ...] --seq N [--seq-k M] --heads H [--head h]
//   attnc layout FILE [-p NAME] [-D ...] --seq N [--seq-k M] --heads H
//                [--block-q 128] [--block-k 128] [--exact] [--components-tiles]
//                --format text|json|png [-o OUT]
//   attnc run FILE [-p NAME] [-D ...] --q Q.npy --k K.npy --v V.npy --o O.npy
//                [--lse LSE.npy] [--tensor NAME=T.npy]... [--dtype bf16|fp16]
//                [--layout bhnd|bnhd]
//                [--do DO.npy --dq DQ.npy --dk DK.npy --dv DV.npy
//                 [--dtensor NAME=DT.npy]...]
//
// Compiled into libattnc, which holds the only copy of LLVM (and with it the
// command-line option registry); bin/attnc is a stub that calls attncMain.
//
//===----------------------------------------------------------------------===//
#include "AttncMain.h"
#include "RunCommand.h"
#include "attnc/Dialect/Attn/Passes.h"
#include "attnc/codegen/CudaEmitter.h"
#include "attnc/frontend/ASTPrinter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"
#include "attnc/layout/ComponentTiles.h"
#include "attnc/layout/Layout.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "attn/Nvrtc.h"
#include "attn/attn.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <sstream>

using namespace attnc;
namespace cl = llvm::cl;

namespace {

// Two namespaces are called attn: the dialect's, which this file means by
// `attn`, and the runtime's, which it calls `::attn`.
namespace attn = attnc::attn;

cl::OptionCategory category("attnc options");

cl::SubCommand checkCommand("check", "Check .pattern files and report diagnostics");
cl::SubCommand compileCommand("compile", "Compile a pattern and print a stage of it");
cl::SubCommand showCommand("show", "Draw which keys each query attends to (small sizes)");
cl::SubCommand layoutCommand("layout", "Classify the tiles of the attention matrix");
cl::SubCommand runCommand("run", "Run a pattern's attention on the GPU, on .npy files");

cl::list<std::string> checkFiles(cl::Positional, cl::OneOrMore, cl::desc("<file.pattern>..."),
                                 cl::sub(checkCommand), cl::cat(category));
cl::opt<std::string> inputFile(cl::Positional, cl::Required, cl::desc("<file.pattern>"),
                               cl::sub(compileCommand), cl::sub(showCommand),
                               cl::sub(layoutCommand), cl::sub(runCommand), cl::cat(category));

cl::opt<std::string> patternName("p", cl::desc("Pattern to use (optional if the file has one)"),
                                 cl::value_desc("name"), cl::sub(compileCommand),
                                 cl::sub(showCommand), cl::sub(layoutCommand),
                                 cl::sub(runCommand), cl::cat(category));
cl::list<std::string> defines("D", cl::Prefix, cl::desc("Bind a parameter"),
                              cl::value_desc("name=value"), cl::sub(compileCommand),
                              cl::sub(showCommand), cl::sub(layoutCommand), cl::sub(runCommand),
                              cl::cat(category));

enum class EmitKind { AST, MLIR, CUDA, PTX, Cubin, Bundle };
cl::opt<EmitKind> emit(
    "emit", cl::desc("What to print"), cl::Required,
    cl::values(clEnumValN(EmitKind::AST, "ast", "the checked syntax tree"),
               clEnumValN(EmitKind::MLIR, "mlir", "the pattern in the attn dialect"),
               clEnumValN(EmitKind::CUDA, "cuda",
                          "the element functions as CUDA C++ (includes attnc_builtins.cuh)"),
               clEnumValN(EmitKind::PTX, "ptx", "the kernel bundle compiled to PTX by NVRTC"),
               clEnumValN(EmitKind::Cubin, "cubin",
                          "the kernel bundle compiled to a CUBIN by NVRTC (binary)"),
               clEnumValN(EmitKind::Bundle, "bundle",
                          "the kernel bundle, which programs linking only the runtime load")),
    cl::sub(compileCommand), cl::cat(category));
cl::opt<std::string> arch("arch", cl::desc("GPU architecture for ptx and cubin"),
                          cl::value_desc("sm_80|sm_90a|..."), cl::init("sm_80"),
                          cl::sub(compileCommand), cl::cat(category));
cl::opt<::attn::DType> dtype("dtype", cl::desc("Element type of q, k, v and o on the GPU"),
                           cl::init(::attn::DType::BF16),
                           cl::values(clEnumValN(::attn::DType::BF16, "bf16", "bfloat16"),
                                      clEnumValN(::attn::DType::FP16, "fp16", "IEEE half")),
                           cl::sub(compileCommand), cl::sub(runCommand), cl::cat(category));
cl::opt<bool> backwardKernels("backward",
                              cl::desc("With --emit=ptx|cubin: the backward kernels too"),
                              cl::sub(compileCommand), cl::cat(category));
// Its own option: `show` and `layout` default to 64, the kernels to 128.
cl::opt<int> kernelHeadDim("head-dim", cl::desc("Head dimension D of the forward kernel"),
                           cl::value_desc("64|128"), cl::init(128), cl::sub(compileCommand),
                           cl::cat(category));

/// Largest Nq or Nk that `show` draws: beyond it the picture is unreadable.
constexpr int64_t kShowLimit = 512;

cl::opt<int64_t> seqQ("seq", cl::desc("Query length Nq"), cl::Required, cl::sub(showCommand), cl::sub(layoutCommand),
                      cl::cat(category));
cl::opt<int64_t> seqK("seq-k", cl::desc("Key length Nk (default: Nq)"), cl::init(-1),
                      cl::sub(showCommand), cl::sub(layoutCommand), cl::cat(category));
cl::opt<int64_t> numHeads("heads", cl::desc("Number of heads H"), cl::Required,
                          cl::sub(showCommand), cl::sub(layoutCommand), cl::cat(category));
cl::opt<int64_t> onlyHead("head", cl::desc("Draw only this head (default: every head)"),
                          cl::init(-1), cl::sub(showCommand), cl::cat(category));
cl::opt<int64_t> batch("batch", cl::desc("Batch index b"), cl::init(0), cl::sub(showCommand),
                       cl::cat(category));
cl::opt<int64_t> headDim("head-dim", cl::desc("Head dimension D"), cl::init(64),
                         cl::sub(showCommand), cl::sub(layoutCommand), cl::cat(category));
cl::list<std::string> tensorFiles("tensor", cl::desc("Bind a tensor parameter to a file of "
                                                     "whitespace-separated numbers"),
                                  cl::value_desc("name=file"), cl::sub(showCommand), cl::sub(layoutCommand),
                                  cl::cat(category));

cl::opt<int64_t> blockQ("block-q", cl::desc("Queries per tile"), cl::init(128),
                        cl::sub(layoutCommand), cl::cat(category));
cl::opt<int64_t> blockK("block-k", cl::desc("Keys per tile"), cl::init(128),
                        cl::sub(layoutCommand), cl::cat(category));
cl::opt<bool> exact("exact", cl::desc("Refine PARTIAL tiles pair by pair (small sizes)"),
                    cl::sub(layoutCommand), cl::cat(category));
cl::opt<bool> componentsTiles(
    "components-tiles",
    cl::desc("Tile each component in its own coordinates (--block-q x --block-k tiles) and "
             "report its FULL and PARTIAL tiles and density"),
    cl::sub(layoutCommand), cl::cat(category));
enum class LayoutFormat { Text, Json, Png };
cl::opt<LayoutFormat> layoutFormat(
    "format", cl::desc("Output format"), cl::init(LayoutFormat::Text),
    cl::values(clEnumValN(LayoutFormat::Text, "text", "one character per tile"),
               clEnumValN(LayoutFormat::Json, "json", "full and partial tiles per head and row"),
               clEnumValN(LayoutFormat::Png, "png", "a picture (default file: PATTERN.png)")),
    cl::sub(layoutCommand), cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Write the output here (default: stdout)"),
                                cl::value_desc("file"), cl::sub(layoutCommand),
                                cl::sub(compileCommand), cl::cat(category));

cl::opt<std::string> runQ("q", cl::desc("Queries [B, H, Nq, D], float32 or float16"),
                          cl::value_desc("q.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runK("k", cl::desc("Keys [B, Hkv, Nk, D]; Hkv divides H"),
                          cl::value_desc("k.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runV("v", cl::desc("Values, shaped as the keys"), cl::value_desc("v.npy"),
                          cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runO("o", cl::desc("Write the output here (float32, shaped as q)"),
                          cl::value_desc("o.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runLse("lse", cl::desc("Write the row log-sum-exp here (float32 [B, H, Nq])"),
                            cl::value_desc("lse.npy"), cl::sub(runCommand), cl::cat(category));
cl::list<std::string> runTensors("tensor", cl::desc("Bind a tensor parameter to an .npy file"),
                                 cl::value_desc("name=file.npy"), cl::sub(runCommand),
                                 cl::cat(category));
cl::opt<std::string> runDo("do", cl::desc("Run the backward too, for this gradient of the output "
                                          "(shaped as q, float32 or float16)"),
                           cl::value_desc("do.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runDq("dq", cl::desc("With --do: write dQ here (float32, shaped as q)"),
                           cl::value_desc("dq.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runDk("dk", cl::desc("With --do: write dK here (float32, shaped as k)"),
                           cl::value_desc("dk.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runDv("dv", cl::desc("With --do: write dV here (float32, shaped as v)"),
                           cl::value_desc("dv.npy"), cl::sub(runCommand), cl::cat(category));
cl::list<std::string> runTensorGrads(
    "dtensor", cl::desc("With --do: write a float32 tensor parameter's gradient here"),
    cl::value_desc("name=file.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<TokenLayout> tokenLayout(
    "layout", cl::desc("How q, k, v and o lie in memory"), cl::init(TokenLayout::BHND),
    cl::values(clEnumValN(TokenLayout::BHND, "bhnd", "[B, H, N, D]"),
               clEnumValN(TokenLayout::BNHD, "bnhd", "[B, N, H, D]")),
    cl::sub(runCommand), cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "attnc") << message << '\n';
  return 1;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// Reads and checks a file; prints its diagnostics.
std::optional<CheckedFile> load(const std::string &path) {
  auto text = readFile(path);
  if (!text) {
    fail(text.takeError());
    return std::nullopt;
  }
  return checkSource(path, std::move(*text), llvm::errs());
}

int runCheck() {
  int status = 0;
  for (const std::string &path : checkFiles) {
    std::optional<CheckedFile> file = load(path);
    if (!file || !file->ok)
      status = 1;
  }
  return status;
}

/// The checked input file and the pattern chosen with -p; reports failures.
struct Selected {
  CheckedFile file;
  const ast::Pattern *pattern = nullptr;
};

std::optional<Selected> loadSelected() {
  std::optional<CheckedFile> file = load(inputFile);
  if (!file || !file->ok)
    return std::nullopt;
  auto pattern = selectPattern(*file, patternName);
  if (!pattern) {
    fail(pattern.takeError());
    return std::nullopt;
  }
  return Selected{std::move(*file), *pattern};
}

/// The selected pattern in the attn dialect with `values` bound, after the
/// layout pipeline (specialized, simplified, with interval twins): what the
/// layout builder and code generation read. Null after reporting a failure.
attn::PatternOp lowerForLayout(mlir::MLIRContext &context,
                               mlir::OwningOpRef<mlir::ModuleOp> &module,
                               const Selected &input, const interp::ParamValues &values) {
  module = mlirGen(context, input.file.ast, *input.file.source, input.pattern, values);
  // The values went into MLIRGen, so the pipeline binds nothing more.
  if (mlir::failed(mlir::verify(*module)) || mlir::failed(runLayoutPipeline(*module, {}))) {
    fail("internal error: the generated IR or the layout passes failed");
    return nullptr;
  }
  return *module->getBody()->getOps<attn::PatternOp>().begin();
}

/// -o, or "-" for stdout.
std::string outputPath() { return outputFile.empty() ? "-" : outputFile.getValue(); }

/// Writes a command's output to -o or stdout; reports a failure.
int writeOutput(llvm::StringRef bytes) {
  if (llvm::Error err = writeFile(outputPath(), bytes))
    return fail(std::move(err));
  return 0;
}

/// The bundle of the selected pattern (::attn::compileFile), after the file was
/// checked here so that its diagnostics print as every command prints them.
std::optional<::attn::Bundle> loadBundle() {
  std::optional<Selected> input = loadSelected();
  if (!input)
    return std::nullopt;
  if (auto bound = interp::parseDefines(*input->pattern, defines); !bound) {
    fail(bound.takeError());
    return std::nullopt;
  }
  ::attn::CompileOptions options{input->pattern->name, {}};
  // parseDefines accepted them, so each has its '='.
  for (const std::string &define : defines) {
    size_t eq = define.find('=');
    options.params[define.substr(0, eq)] = define.substr(eq + 1);
  }
  try {
    return ::attn::compileFile(inputFile, options);
  } catch (const ::attn::Error &e) {
    fail(e.what());
    return std::nullopt;
  }
}

::attn::KernelOptions kernelOptions() {
  ::attn::KernelOptions options;
  options.backward = backwardKernels;
  return options;
}

/// The whole bundle through NVRTC, for the forward kernel's dtype and head dim.
llvm::Expected<std::string> compileKernels(const ::attn::Bundle &bundle) {
  ::attn::CompileRequest request =
      ::attn::kernelCompileRequest(bundle, dtype, kernelHeadDim, arch, kernelOptions());
  request.kind = emit == EmitKind::PTX ? ::attn::BinaryKind::Ptx : ::attn::BinaryKind::Cubin;
  try {
    std::string bytes = ::attn::compileWithNvrtc(request).bytes;
    // NVRTC's PTX ends with the NUL the driver wants; a text file does not.
    if (request.kind == ::attn::BinaryKind::Ptx && !bytes.empty() && bytes.back() == '\0')
      bytes.pop_back();
    return bytes;
  } catch (const ::attn::Error &e) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), e.what());
  }
}

/// --emit=ptx|cubin|bundle: what the runtime gets, to -o or stdout.
int emitKernels() {
  if (kernelHeadDim != 64 && kernelHeadDim != 128)
    return fail(fmt::format("--head-dim must be 64 or 128 (got {})", kernelHeadDim));
  if (emit == EmitKind::Cubin && outputPath() == "-" && llvm::outs().is_displayed())
    return fail("a CUBIN is binary: write it with -o FILE (or redirect stdout)");
  std::optional<::attn::Bundle> bundle = loadBundle();
  if (!bundle)
    return 1;
  std::string bytes;
  if (emit == EmitKind::Bundle) {
    std::ostringstream os;
    ::attn::writeBundle(*bundle, os);
    bytes = os.str();
  } else {
    llvm::Expected<std::string> binary = compileKernels(*bundle);
    if (!binary)
      return fail(binary.takeError());
    bytes = std::move(*binary);
  }
  return writeOutput(bytes);
}

/// --emit=ast|mlir|cuda into `os`; false after reporting a failure.
bool printStage(const Selected &input, const interp::ParamValues &bound, llvm::raw_ostream &os) {
  if (emit == EmitKind::AST) {
    printAST(*input.pattern, *input.file.source, bound, os);
    return true;
  }
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlirGen(context, input.file.ast, *input.file.source, input.pattern, bound);
  if (mlir::failed(mlir::verify(*module))) {
    fail("internal error: the generated IR does not verify");
    return false;
  }
  if (emit == EmitKind::MLIR) {
    module->print(os);
    return true;
  }
  attn::PatternOp pattern = lowerForLayout(context, module, input, bound);
  if (!pattern)
    return false;
  if (llvm::Error err = emitCuda(pattern, os)) {
    fail(std::move(err));
    return false;
  }
  return true;
}

int runCompile() {
  if (emit == EmitKind::PTX || emit == EmitKind::Cubin || emit == EmitKind::Bundle)
    return emitKernels();
  std::optional<Selected> input = loadSelected();
  if (!input)
    return 1;
  auto bound = interp::parseDefines(*input->pattern, defines);
  if (!bound)
    return fail(bound.takeError());
  std::string text;
  llvm::raw_string_ostream os(text);
  if (!printStage(*input, *bound, os))
    return 1;
  return writeOutput(text);
}

/// A selected pattern with its parameters and tensors bound, and its
/// reference interpreter for this shape.
struct Bound {
  Selected input;
  interp::ParamValues values;
  std::map<std::string, interp::OwnedTensor> tensors;
  std::optional<interp::Interpreter> interp;
};

llvm::Expected<std::map<std::string, interp::OwnedTensor>>
loadTensors(const ast::Pattern &pattern, const interp::ParamValues &values,
            const interp::Shape &shape);

/// Loads, selects and binds the input for Nq = --seq, Nk = `keys`; reports failures.
std::unique_ptr<Bound> bindInput(int64_t keys) {
  std::optional<Selected> input = loadSelected();
  if (!input)
    return nullptr;
  auto bound = std::make_unique<Bound>(Bound{std::move(*input), {}, {}, std::nullopt});
  const ast::Pattern &pattern = *bound->input.pattern;
  auto values = interp::bindParams(pattern, defines);
  if (!values) {
    fail(values.takeError());
    return nullptr;
  }
  bound->values = *values;
  interp::Shape shape{numHeads, seqQ, keys, headDim};
  auto owned = loadTensors(pattern, bound->values, shape);
  if (!owned) {
    fail(owned.takeError());
    return nullptr;
  }
  bound->tensors = std::move(*owned);
  std::map<std::string, interp::HostTensor> views;
  for (const auto &[name, tensor] : bound->tensors)
    views[name] = tensor.view();
  auto interp = interp::Interpreter::create(pattern, bound->values, shape, views);
  if (!interp) {
    fail(interp.takeError());
    return nullptr;
  }
  bound->interp.emplace(std::move(*interp));
  return bound;
}

/// Binds every --tensor file to its parameter, sized for this shape.
llvm::Expected<std::map<std::string, interp::OwnedTensor>>
loadTensors(const ast::Pattern &pattern, const interp::ParamValues &values,
            const interp::Shape &shape) {
  std::map<std::string, interp::OwnedTensor> tensors;
  for (const std::string &binding : tensorFiles) {
    size_t eq = binding.find('=');
    std::string name = binding.substr(0, eq);
    const ast::Param *param = pattern.findParam(name);
    if (eq == std::string::npos || eq == 0)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "malformed --tensor '%s': expected name=file",
                                     binding.c_str());
    if (!param || param->kind != ast::ParamKind::Tensor)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "pattern '%s' has no tensor parameter '%s'",
                                     pattern.name.c_str(), name.c_str());
    auto dims = interp::Interpreter::tensorShape(pattern, *param, values, shape);
    if (!dims)
      return dims.takeError();
    auto tensor = interp::loadTensorText(*param, *dims, binding.substr(eq + 1));
    if (!tensor)
      return tensor.takeError();
    if (!tensors.emplace(name, std::move(*tensor)).second)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "tensor '%s' is given more than once with --tensor",
                                     name.c_str());
  }
  return tensors;
}

std::string describeHeads(const std::vector<int64_t> &heads) {
  std::string text = heads.size() == 1 ? "head " : "heads ";
  for (size_t k = 0; k < heads.size(); ++k)
    text += (k ? ", " : "") + std::to_string(heads[k]);
  return text;
}

/// Draws each distinct mask once, listing the heads that share it.
int drawMasks(const interp::Interpreter &interp, const SourceFile &source) {
  const interp::Shape &shape = interp.shape();
  std::vector<int64_t> heads;
  for (int64_t h = 0; h < shape.numHeads; ++h)
    if (onlyHead < 0 || h == onlyHead)
      heads.push_back(h);
  std::vector<std::pair<std::string, std::vector<int64_t>>> masks;
  std::vector<int64_t> counts;
  try {
    for (int64_t h : heads) {
      std::string mask;
      int64_t count = 0;
      for (int64_t i = 0; i < shape.seqQ; ++i) {
        for (int64_t j = 0; j < shape.seqK; ++j) {
          bool on = interp.attends(batch, h, i, j);
          count += on;
          mask += on ? '#' : '.';
        }
        mask += '\n';
      }
      auto same = std::find_if(masks.begin(), masks.end(),
                               [&](const auto &entry) { return entry.first == mask; });
      if (same != masks.end()) {
        same->second.push_back(h);
        continue;
      }
      masks.push_back({mask, {h}});
      counts.push_back(count);
    }
  } catch (const interp::EvalError &e) {
    DiagnosticEngine diags(source, llvm::errs());
    diags.error(e.range(), e.what());
    return 1;
  }
  int64_t pairs = shape.seqQ * shape.seqK;
  for (size_t k = 0; k < masks.size(); ++k) {
    llvm::outs() << describeHeads(masks[k].second) << ":\n" << masks[k].first;
    llvm::outs() << fmt::format("attended pairs: {} of {} ({:.2f}%)\n", counts[k], pairs,
                                pairs ? 100.0 * counts[k] / pairs : 0.0);
  }
  return 0;
}

int runShow() {
  int64_t keys = seqK < 0 ? seqQ : seqK;
  if (seqQ < 1 || keys < 1 || numHeads < 1)
    return fail("--seq, --seq-k and --heads must be at least 1");
  if (seqQ > kShowLimit || keys > kShowLimit)
    return fail(fmt::format("'show' draws at most {0} x {0} elements, one character each "
                            "(got Nq = {1}, Nk = {2})",
                            kShowLimit, seqQ, keys));
  if (onlyHead.getNumOccurrences() && onlyHead < 0)
    return fail(fmt::format("--head must be at least 0 (got {})", onlyHead));
  if (onlyHead >= numHeads)
    return fail(fmt::format("--head {} is out of range for --heads {}", onlyHead, numHeads));
  if (headDim < 1 || batch < 0)
    return fail("--head-dim must be at least 1 and --batch at least 0");
  std::unique_ptr<Bound> bound = bindInput(keys);
  if (!bound)
    return 1;
  llvm::outs() << fmt::format("pattern '{}': H = {}, Nq = {}, Nk = {}, b = {}\n",
                              bound->input.pattern->name, numHeads, seqQ, keys, batch);
  return drawMasks(*bound->interp, *bound->input.file.source);
}

/// The tensors of a bound pattern as the IR evaluator sees them.
std::map<std::string, attn::TensorData> irTensors(const Bound &bound, mlir::MLIRContext &context) {
  std::map<std::string, attn::TensorData> tensors;
  for (const auto &[name, owned] : bound.tensors) {
    interp::HostTensor view = owned.view();
    mlir::Type type = view.type == ast::ElemType::F32   ? mlir::Type(mlir::Float32Type::get(&context))
                      : view.type == ast::ElemType::I64 ? mlir::Type(mlir::IntegerType::get(&context, 64))
                                                        : mlir::Type(mlir::IntegerType::get(&context, 32));
    tensors[name] = {type, view.shape, view.data};
  }
  return tensors;
}

llvm::Error writeLayout(const layout::Layout &result, const std::string &patternName) {
  if (layoutFormat == LayoutFormat::Png) {
    // A picture never goes to a terminal: without -o it is named after the pattern.
    std::string path = outputFile.empty() ? patternName + ".png" : outputFile.getValue();
    if (llvm::Error err = layout::writePng(result, path))
      return err;
    llvm::errs() << "attnc: wrote " << path << '\n';
    return llvm::Error::success();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  if (layoutFormat == LayoutFormat::Json)
    layout::printJson(result, os);
  else
    layout::printText(result, os);
  return writeFile(outputPath(), text);
}

int runLayout() {
  int64_t keys = seqK < 0 ? seqQ : seqK;
  if (seqQ < 1 || keys < 1 || numHeads < 1 || headDim < 1)
    return fail("--seq, --seq-k, --heads and --head-dim must be at least 1");
  if (blockQ < 1 || blockK < 1)
    return fail("--block-q and --block-k must be at least 1");
  std::unique_ptr<Bound> bound = bindInput(keys);
  if (!bound)
    return 1;
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  attn::PatternOp pattern = lowerForLayout(context, module, bound->input, bound->values);
  if (!pattern)
    return 1;
  attn::Sizes sizes{numHeads, seqQ, keys, headDim};
  attn::PatternEvaluator twins(pattern, sizes, irTensors(*bound, context));
  auto result = layout::buildLayout(twins, &*bound->interp, sizes, {blockQ, blockK, exact});
  if (!result)
    return fail(result.takeError());
  result->components = layout::describeComponents(pattern, numHeads);
  if (componentsTiles)
    for (layout::ComponentInfo &c : result->components) {
      layout::ComponentTiles t =
          layout::enumerateComponentTiles(c, seqQ, keys, {blockQ, blockK, /*keepTiles=*/false});
      c.tiles = layout::ComponentTileCounts{layout::statusName(t.status), t.reason, blockQ, blockK,
                                            t.classes, t.full, t.partial, t.pairs, t.area};
    }
  if (llvm::Error err = writeLayout(*result, bound->input.pattern->name))
    return fail(std::move(err));
  return 0;
}

int runRun() {
  std::optional<::attn::Bundle> bundle = loadBundle();
  if (!bundle)
    return 1;
  RunRequest request{runQ,  runK,  runV,  runO,  runLse, runTensors, dtype, tokenLayout,
                     runDo, runDq, runDk, runDv, runTensorGrads};
  if (llvm::Error err = runAttention(*bundle, request))
    return fail(std::move(err));
  return 0;
}

} // namespace

int attnc::attncMain(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "attnc: a compiler for attention patterns\n\n"
                              "  attnc check FILE...\n"
                              "  attnc compile FILE --emit=ast|mlir|cuda|ptx|cubin|bundle "
                              "[-p NAME] [-D name=value]... [--arch sm_80] [--dtype bf16|fp16] "
                              "[--head-dim 64|128] [--backward] [-o OUT]\n"
                              "  attnc show FILE [-p NAME] [-D name=value]... --seq N "
                              "[--seq-k M] --heads H [--head h]\n"
                              "  attnc layout FILE [-p NAME] [-D name=value]... --seq N "
                              "[--seq-k M] --heads H [--block-q 128] [--block-k 128] [--exact] "
                              "[--components-tiles] --format text|json|png [-o OUT]\n"
                              "  attnc run FILE [-p NAME] [-D name=value]... --q Q.npy --k K.npy "
                              "--v V.npy --o O.npy [--lse LSE.npy] [--tensor NAME=T.npy]... "
                              "[--dtype bf16|fp16] [--layout bhnd|bnhd] "
                              "[--do DO.npy --dq DQ.npy --dk DK.npy --dv DV.npy "
                              "[--dtensor NAME=DT.npy]...]\n");
  if (checkCommand)
    return runCheck();
  if (compileCommand)
    return runCompile();
  if (showCommand)
    return runShow();
  if (layoutCommand)
    return runLayout();
  if (runCommand)
    return runRun();
  return fail("no command given; run 'attnc --help'");
}
