# lit configuration for attnc's compiler-stage tests.
import os
import subprocess
import sys
import lit.formats

config.name = "attnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".pattern", ".test", ".mlir"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)

site_config = lit_config.params.get("attnc_site_config")
if not site_config:
    lit_config.fatal("run lit with --param attnc_site_config=<build>/tests/lit/lit.site.cfg.py")
exec(open(site_config).read())
# Outputs and lit's timing file go to the build folder, one folder per ctest
# entry, so that parallel runs share (and corrupt) no file.
config.test_exec_root = lit_config.params.get("attnc_exec_root", config.attnc_exec_root)

config.substitutions.append(("%attnc-bench", os.path.join(config.attnc_bin_dir, "attnc-bench")))
config.substitutions.append(("%attnc-opt", os.path.join(config.attnc_bin_dir, "attnc-opt")))
config.substitutions.append(("%attnc", os.path.join(config.attnc_bin_dir, "attnc")))
config.substitutions.append(("%patterns", os.path.join(config.attnc_source_dir, "patterns")))
config.substitutions.append(("%bench", os.path.join(config.attnc_source_dir, "bench")))
config.substitutions.append(("FileCheck", os.path.join(config.llvm_tools_dir, "FileCheck")))
config.substitutions.append(("%not", os.path.join(config.llvm_tools_dir, "not")))
config.substitutions.append(("%python", sys.executable))
# Diagnostics must not carry terminal colors in tests.
config.environment["TERM"] = "dumb"

# `REQUIRES: gpu` / `UNSUPPORTED: gpu`: what `attnc run` does depends on
# whether this machine has a GPU.
try:
    if subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
        config.available_features.add("gpu")
except OSError:
    pass

# `REQUIRES: numpy` / `REQUIRES: matplotlib`: the Python tests of bench/ need
# them in the interpreter that runs lit (%python); without, they are skipped.
for module in ["numpy", "matplotlib"]:
    if subprocess.run([sys.executable, "-c", "import " + module], capture_output=True).returncode == 0:
        config.available_features.add(module)
