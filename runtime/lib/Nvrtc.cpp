#include "attn/Nvrtc.h"

#include "attn/Bundle.h"
#include "attn/Error.h"

#include <nvrtc.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace attn {
namespace {

void checkNvrtc(nvrtcResult result, const char *what) {
  if (result != NVRTC_SUCCESS)
    throw Error(std::string(what) + ": " + nvrtcGetErrorString(result));
}

// "sm_90a" -> "90a". Checked here so that a typo is reported as such and not
// as an NVRTC option error.
std::string archSuffix(const std::string &arch) {
  const std::string prefix = "sm_";
  std::string suffix = arch.substr(0, prefix.size()) == prefix ? arch.substr(prefix.size()) : "";
  std::size_t digits = 0;
  while (digits < suffix.size() && std::isdigit(static_cast<unsigned char>(suffix[digits])))
    ++digits;
  bool validTail = digits == suffix.size() ||
                   (digits + 1 == suffix.size() && (suffix.back() == 'a' || suffix.back() == 'f'));
  if (digits == 0 || !validTail)
    throw Error("invalid CUDA architecture '" + arch + "' (expected e.g. sm_80 or sm_90a)");
  return suffix;
}

std::string cudaIncludeDir() {
  if (const char *override = std::getenv("ATTNC_CUDA_INCLUDE"); override && *override)
    return override;
  return ATTNC_CUDA_INCLUDE_DIR;
}

// NVRTC hands out its log, PTX and CUBIN the same way: ask the size, then copy.
std::string readOutput(nvrtcProgram program,
                       nvrtcResult (*getSize)(nvrtcProgram, std::size_t *),
                       nvrtcResult (*get)(nvrtcProgram, char *), const char *what) {
  std::size_t size = 0;
  checkNvrtc(getSize(program, &size), what);
  std::string output(size, '\0');
  checkNvrtc(get(program, output.data()), what);
  return output;
}

// Frees the program however compilation ends.
class Program {
public:
  explicit Program(const CompileRequest &request) {
    std::vector<const char *> names, contents;
    for (const auto &[name, content] : request.headers) {
      names.push_back(name.c_str());
      contents.push_back(content.c_str());
    }
    checkNvrtc(nvrtcCreateProgram(&program_, request.source.c_str(), request.name.c_str(),
                                  static_cast<int>(names.size()), contents.data(),
                                  names.data()),
               "nvrtcCreateProgram");
  }
  ~Program() { nvrtcDestroyProgram(&program_); }
  Program(const Program &) = delete;
  Program &operator=(const Program &) = delete;

  nvrtcProgram get() const { return program_; }

  std::string log() const {
    // c_str() drops the terminating NUL that NVRTC counts in the size.
    return readOutput(program_, nvrtcGetProgramLogSize, nvrtcGetProgramLog, "reading the NVRTC log").c_str();
  }

  // PTX keeps its terminating NUL, which cuModuleLoadData needs.
  std::string output(BinaryKind kind) const {
    return kind == BinaryKind::Ptx
               ? readOutput(program_, nvrtcGetPTXSize, nvrtcGetPTX, "reading the PTX")
               : readOutput(program_, nvrtcGetCUBINSize, nvrtcGetCUBIN, "reading the CUBIN");
  }

private:
  nvrtcProgram program_ = nullptr;
};

/// For each line of `source`, the last kSourceMarker comment at or above it
/// (empty before the first).
std::vector<std::string> markerPerLine(const std::string &source) {
  std::vector<std::string> markers;
  std::string current;
  std::istringstream lines(source);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(kSourceMarker, 0) == 0)
      current = line;
    markers.push_back(current);
  }
  return markers;
}

/// The source line a log line "NAME(LINE): ..." refers to, or 0.
std::size_t logLineNumber(const std::string &logLine, const std::string &name) {
  if (logLine.rfind(name + "(", 0) != 0)
    return 0;
  std::size_t number = 0;
  for (std::size_t k = name.size() + 1; k < logLine.size() && std::isdigit(logLine[k]); ++k)
    number = number * 10 + static_cast<std::size_t>(logLine[k] - '0');
  return number;
}

/// NVRTC's log with each located message followed by the marker of the
/// generated code it is in: the pattern statement it came from.
std::string annotateLog(const std::string &log, const CompileRequest &request) {
  std::vector<std::string> markers = markerPerLine(request.source);
  std::string annotated;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    annotated += line + "\n";
    std::size_t number = logLineNumber(line, request.name);
    if (number > 0 && number <= markers.size() && !markers[number - 1].empty())
      annotated += "  note: in " + markers[number - 1].substr(std::strlen(kSourceMarker)) + "\n";
  }
  return annotated;
}

} // namespace

std::vector<std::string> nvrtcOptions(const CompileRequest &request) {
  std::string suffix = archSuffix(request.arch);
  std::string virtualOrReal = request.kind == BinaryKind::Ptx ? "compute_" : "sm_";
  std::string include = cudaIncludeDir();
  // --no-cache: NVRTC (12.9+) keeps its own cache of compiled programs
  // outside ATTNC_CACHE_DIR. attnc's kernel cache is the only one: emptying it
  // must mean compiling again (a "cold" compile in attnc-bench once took 0.08 s
  // from NVRTC's cache), and no second copy of every kernel piles up elsewhere.
  std::vector<std::string> options = {"-std=c++17", "-arch=" + virtualOrReal + suffix,
                                      "-I" + include, "-I" + include + "/cccl", "--no-cache"};
  options.insert(options.end(), request.options.begin(), request.options.end());
  return options;
}

Binary compileWithNvrtc(const CompileRequest &request) {
  std::vector<std::string> options = nvrtcOptions(request);
  std::vector<const char *> optionPointers;
  for (const std::string &option : options)
    optionPointers.push_back(option.c_str());
  Program program(request);
  nvrtcResult result = nvrtcCompileProgram(
      program.get(), static_cast<int>(optionPointers.size()), optionPointers.data());
  if (result != NVRTC_SUCCESS)
    throw Error("NVRTC failed to compile " + request.name + " for " + request.arch + " (" +
                nvrtcGetErrorString(result) + "):\n" + annotateLog(program.log(), request));
  return {request.kind, program.output(request.kind)};
}

std::string nvrtcVersion() {
  int major = 0, minor = 0;
  checkNvrtc(::nvrtcVersion(&major, &minor), "nvrtcVersion");
  return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace attn
