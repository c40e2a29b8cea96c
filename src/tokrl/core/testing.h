// Helpers shared by tests and benchmarks (never used by the library).
#ifndef TOKRL_CORE_TESTING_H_
#define TOKRL_CORE_TESTING_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "tokrl/core/check.h"

namespace tokrl {

// Where the source tree (configs/, tests/golden/) is: the TOKRL_SOURCE_DIR
// environment variable, else the path CMake compiled in (TOKRL_SOURCE_DIR
// macro), else ".".
inline std::filesystem::path SourceDir() {
  if (const char* env = std::getenv("TOKRL_SOURCE_DIR")) return env;
#ifdef TOKRL_SOURCE_DIR
  return TOKRL_SOURCE_DIR;
#else
  return ".";
#endif
}

// The message of the tokrl::Error that fn throws, or "" if it throws none.
inline std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// '<path>' as error messages quote it. Built by appending: GCC 12 reports a
// false -Wrestrict for "literal" + std::string&& (GCC bug 105329).
inline std::string Quoted(const std::filesystem::path& path) {
  std::string out = "'";
  out.append(path.string()).append("'");
  return out;
}

// A fresh, empty directory under the system temp folder, removed (with
// everything in it) when the object goes out of scope. `tag` names it, with
// the process id appended so parallel test processes never collide.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(std::string_view tag) {
    std::string name = "tokrl_";
    name.append(tag).append("_").append(std::to_string(::getpid()));
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tokrl

#endif  // TOKRL_CORE_TESTING_H_
