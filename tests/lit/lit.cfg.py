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

# `REQUIRES: numpy` / `REQUIRES: matplotlib`: the Python tests of bench/ run
# under %bench-python, the first interpreter that has numpy: lit's own, else
# the system's (where tools/setup.sh installs python3-numpy and
# python3-matplotlib; lit's may be a pyenv one without them). Without numpy
# anywhere they are skipped.
def imports(python, module):
    try:
        return subprocess.run([python, "-c", "import " + module], capture_output=True).returncode == 0
    except OSError:
        return False

bench_python = next((python for python in [sys.executable, "/usr/bin/python3"]
                     if imports(python, "numpy")), sys.executable)
# Before %bench, which is a prefix of it.
config.substitutions.insert(0, ("%bench-python", bench_python))
for module in ["numpy", "matplotlib"]:
    if imports(bench_python, module):
        config.available_features.add(module)
