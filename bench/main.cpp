//===- main.cpp - attnc-bench: benchmarks driven by suite files -----------===//
//
// attnc-bench --suite FILE runs every case of a suite (bench/README.md) on
// the GPU and prints markdown tables; --list prints the expanded cases as
// JSON without a GPU. Exit status: 0, 1 when a case failed or the run could
// not start (no GPU, a bad suite), 2 for a bad command line.
//
//===----------------------------------------------------------------------===//
#include "Listing.h"
#include "Measure.h"
#include "Report.h"
#include "Suite.h"

#include "attn/Error.h"
#include "attn/Nvrtc.h"

#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace {

using namespace attnc::bench;

const char *const kUsage = R"(usage: attnc-bench --suite FILE [options]
  --suite FILE          the suite (JSON; bench/README.md), e.g. bench/suites/default.json
  --filter REGEX        only the cases whose id REGEX matches (anywhere in it)
  --list                print the expanded cases as JSON and stop (no GPU needed)
  --tensors-dir DIR     with --list: write each case's pattern tensors as .npy files to DIR
  --patterns DIR        find <pattern>.pattern in DIR (default: patterns/ above the suite)
  --json OUT.json       also write the results as JSON, rewritten after each case
  --skip-done PREV.json copy the cases measured without error in PREV.json
  --iters K             timed runs per measurement, the median is reported (default 20)
  --warmup W            untimed runs before them (default 3)
  --no-cold             skip the cold JIT compile and warm load times
  --check               check each case's pair count against brute-force counts
)";

constexpr int kMinimumIters = 20;

struct Options {
  std::string suite, filter, json, skipDone, tensorsDir, patterns;
  MeasureOptions measure;
  bool list = false;
};

[[noreturn]] void usageError(const std::string &message) {
  std::fprintf(stderr, "attnc-bench: error: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

int parseCount(const std::string &text, const std::string &option, int minimum) {
  try {
    size_t used = 0;
    long value = std::stol(text, &used);
    if (used == text.size() && value >= minimum && value <= 1000000)
      return static_cast<int>(value);
  } catch (const std::exception &) {
  }
  usageError(option + " wants an integer from " + std::to_string(minimum) + ", not '" + text +
             "'");
}

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int a = 1; a < argc; ++a) {
    std::string option = argv[a];
    if (option == "--help" || option == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (option == "--list" || option == "--check" || option == "--no-cold") {
      options.list = options.list || option == "--list";
      options.measure.check = options.measure.check || option == "--check";
      options.measure.cold = options.measure.cold && option != "--no-cold";
      continue;
    }
    if (a + 1 == argc)
      usageError(option + " wants a value");
    std::string value = argv[++a];
    if (option == "--suite")
      options.suite = value;
    else if (option == "--filter")
      options.filter = value;
    else if (option == "--json")
      options.json = value;
    else if (option == "--skip-done")
      options.skipDone = value;
    else if (option == "--tensors-dir")
      options.tensorsDir = value;
    else if (option == "--patterns")
      options.patterns = value;
    else if (option == "--iters") // below 20 only when asked: runSuite notes it
      options.measure.iters = parseCount(value, option, 1);
    else if (option == "--warmup")
      options.measure.warmup = parseCount(value, option, 0);
    else
      usageError("unknown option " + option);
  }
  if (options.suite.empty())
    usageError("--suite FILE is required");
  if (!options.tensorsDir.empty() && !options.list)
    usageError("--tensors-dir goes with --list");
  return options;
}

/// The suite with only the cases whose id matches `filter`.
Suite filtered(Suite suite, const std::string &filter) {
  if (filter.empty())
    return suite;
  llvm::Regex regex(filter);
  std::string why;
  if (!regex.isValid(why))
    throw attn::Error("--filter '" + filter + "': " + why);
  for (std::vector<Case> *cases : {&suite.cases, &suite.layoutCases})
    cases->erase(std::remove_if(cases->begin(), cases->end(),
                                [&](const Case &c) { return !regex.match(c.id); }),
                 cases->end());
  return suite;
}

std::string isoDate() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

/// "13.0" for cuDriverGetVersion's 13000.
std::string versionText(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

/// A case's row: copied from --skip-done's report, or measured (an error
/// becomes the row's "error", and the run goes on).
llvm::json::Object runCase(Bench &bench, const PreviousResults &previous, const Case &c) {
  if (std::optional<llvm::json::Object> done = previous.find(c))
    return *done;
  llvm::json::Object row = caseFields(c);
  try {
    llvm::json::Object metrics = c.layoutOnly ? bench.measureLayoutCase(c) : bench.measureCase(c);
    for (auto &[key, value] : metrics)
      row[key] = std::move(value);
  } catch (const std::exception &error) {
    row["error"] = error.what();
  }
  return row;
}

int runSuite(const Suite &suite, const Options &options) {
  attn::DeviceInfo device = attn::deviceInfo(); // no GPU: stops here
  if (options.measure.iters < kMinimumIters)
    std::fprintf(stderr, "attnc-bench: note: %d timed runs per measurement, fewer than the %d "
                         "the default suite's figures use\n",
                 options.measure.iters, kMinimumIters);
  PreviousResults previous =
      options.skipDone.empty() ? PreviousResults() : PreviousResults(options.skipDone);
  Bench bench(suite, options.measure);
  // Every case's tensors before the first measurement: a suite's mistake
  // shows in a second, not hours into a run.
  for (const std::vector<Case> *cases : {&suite.cases, &suite.layoutCases})
    for (const Case &c : *cases)
      tensorsOf(suite, c, bench.bundles());
  ReportHeader header{device.name, versionText(device.driverVersion), attn::nvrtcVersion(),
                      isoDate(), suite.path, options.measure.iters, options.measure.warmup};
  std::printf("%s, CUDA driver %s, NVRTC %s; %s; median of %d after %d warm-up\n\n",
              header.gpu.c_str(), header.driver.c_str(), header.cuda.c_str(),
              header.date.c_str(), header.iters, header.warmup);
  Report report(header, options.json);
  for (const std::vector<Case> *cases : {&suite.cases, &suite.layoutCases})
    for (const Case &c : *cases)
      report.add(c, runCase(bench, previous, c));
  return report.anyFailed() ? 1 : 0;
}

int run(const Options &options) {
  llvm::Expected<Suite> loaded = loadSuite(options.suite, options.patterns);
  if (!loaded)
    throw attn::Error(llvm::toString(loaded.takeError()));
  Suite suite = filtered(std::move(*loaded), options.filter);
  if (options.list) {
    BundleCache bundles;
    printListing(suite, bundles, options.tensorsDir, llvm::outs());
    return 0;
  }
  return runSuite(suite, options);
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  try {
    return run(options);
  } catch (const std::exception &error) {
    llvm::outs().flush();
    std::fprintf(stderr, "attnc-bench: error: %s\n", error.what());
    return 1;
  }
}
