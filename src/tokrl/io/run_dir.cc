#include "tokrl/io/run_dir.h"

#include <string>

#include "tokrl/io/atomic_file.h"

namespace tokrl::io::run_dir {

namespace fs = std::filesystem;

fs::path MoveAttemptAside(const fs::path& run_dir) {
  fs::path aside;
  for (int k = 1;; ++k) {
    aside = run_dir / (kAttemptPrefix + std::to_string(k));
    if (!fs::exists(aside)) break;
  }
  fs::create_directory(aside);
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    // The lock stays: its holder (the caller, for the trainer) keeps it.
    if (name == kLock || name.rfind(kAttemptPrefix, 0) == 0) continue;
    fs::rename(entry.path(), aside / name);
  }
  SyncDirectory(run_dir);
  return aside;
}

}  // namespace tokrl::io::run_dir
