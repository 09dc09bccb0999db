# Links LLVM and MLIR statically.
#
# Debian's LLVM/MLIR packages export targets that link the 129 MB libLLVM.so,
# which the GPU machines do not have. We build an INTERFACE target from the
# static component archives (llvm-config --link-static) and make every imported
# MLIR target use it instead of `LLVM`, so our binaries carry only the LLVM code
# they reference and run on machines without any LLVM installed.

find_package(MLIR REQUIRED CONFIG PATHS /usr/lib/llvm-19/lib/cmake/mlir NO_DEFAULT_PATH)
find_package(LLVM REQUIRED CONFIG PATHS /usr/lib/llvm-19/lib/cmake/llvm NO_DEFAULT_PATH)
message(STATUS "attnc: LLVM ${LLVM_PACKAGE_VERSION} from ${LLVM_DIR}")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)

set(ATTNC_LLVM_COMPONENTS support demangle CACHE STRING
    "LLVM components linked statically into libattnc")

find_program(ATTNC_LLVM_CONFIG llvm-config PATHS "${LLVM_TOOLS_BINARY_DIR}" NO_DEFAULT_PATH REQUIRED)
execute_process(
  COMMAND "${ATTNC_LLVM_CONFIG}" --link-static --libs ${ATTNC_LLVM_COMPONENTS}
  OUTPUT_VARIABLE _attnc_llvm_libs OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(
  COMMAND "${ATTNC_LLVM_CONFIG}" --libdir
  OUTPUT_VARIABLE _attnc_llvm_libdir OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
separate_arguments(_attnc_llvm_libs UNIX_COMMAND "${_attnc_llvm_libs}")

add_library(attnc_llvm_static INTERFACE)
target_link_directories(attnc_llvm_static INTERFACE "${_attnc_llvm_libdir}")
# The archives reference each other; a link group resolves any order.
target_link_libraries(attnc_llvm_static INTERFACE
  -Wl,--start-group ${_attnc_llvm_libs} -Wl,--end-group
  z zstd rt dl m pthread)
target_include_directories(attnc_llvm_static SYSTEM INTERFACE
  ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
target_compile_definitions(attnc_llvm_static INTERFACE ${LLVM_DEFINITIONS})

foreach(_target IN LISTS MLIR_EXPORTED_TARGETS)
  if(TARGET ${_target})
    get_target_property(_links ${_target} INTERFACE_LINK_LIBRARIES)
    if(_links)
      list(TRANSFORM _links REPLACE "^LLVM$" "attnc_llvm_static")
      set_target_properties(${_target} PROPERTIES INTERFACE_LINK_LIBRARIES "${_links}")
    endif()
  endif()
endforeach()
