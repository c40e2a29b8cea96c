// For tests and benchmarks: where the source tree (configs/, tests/golden/)
// is. The TOKRL_SOURCE_DIR environment variable wins; otherwise the path
// CMake compiled in (TOKRL_SOURCE_DIR macro); otherwise ".".
#ifndef TOKRL_CORE_TEST_PATHS_H_
#define TOKRL_CORE_TEST_PATHS_H_

#include <cstdlib>
#include <filesystem>

namespace tokrl {

inline std::filesystem::path SourceDir() {
  if (const char* env = std::getenv("TOKRL_SOURCE_DIR")) return env;
#ifdef TOKRL_SOURCE_DIR
  return TOKRL_SOURCE_DIR;
#else
  return ".";
#endif
}

}  // namespace tokrl

#endif  // TOKRL_CORE_TEST_PATHS_H_
