#include "tokrl/io/checkpoint_dir.h"

#include <cstdint>
#include <sstream>
#include <system_error>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/run_dir.h"
#include "tokrl/io/tfevents.h"

namespace tokrl::io {
namespace fs = std::filesystem;

bool HasCheckpoint(const fs::path& run_dir) {
  std::error_code ec;
  return fs::exists(run_dir / run_dir::kCheckpoint / run_dir::kManifest, ec) ||
         fs::exists(run_dir / run_dir::kCheckpointOld / run_dir::kManifest, ec);
}

void WriteCheckpoint(const fs::path& run_dir,
                     const std::vector<std::string>& names,
                     const std::function<void(const fs::path&)>& write) {
  const fs::path tmp = run_dir / run_dir::kCheckpointTmp;
  const fs::path final_dir = run_dir / run_dir::kCheckpoint;
  const fs::path old = run_dir / run_dir::kCheckpointOld;
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    write(tmp);
    std::ostringstream manifest;
    for (const auto& name : names) {
      const std::string bytes = ReadFile(tmp / name);
      manifest << name << " " << bytes.size() << " " << Crc32c(bytes) << "\n";
    }
    WriteFileAtomic(tmp / run_dir::kManifest, manifest.str());
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    TOKRL_FAIL() << "cannot write a checkpoint in '" << run_dir.string()
                 << "' (the previous one, if any, is intact): " << e.what();
  }
  // Swap in the new checkpoint; at every instant a complete one exists.
  if (fs::exists(final_dir)) {
    fs::remove_all(old);
    fs::rename(final_dir, old);
  }
  fs::rename(tmp, final_dir);
  SyncDirectory(run_dir);
  fs::remove_all(old);
}

std::map<std::string, ManifestEntry> ParseManifest(const std::string& text,
                                                   const std::string& source) {
  std::map<std::string, ManifestEntry> entries;
  std::istringstream in(text);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    std::istringstream fields(line);
    std::string name, extra;
    int64_t size = -1;
    int64_t crc = -1;
    if (!(fields >> name >> size >> crc) || (fields >> extra) || size < 0 ||
        crc < 0 || crc > UINT32_MAX || name.find('/') != std::string::npos ||
        name == "." || name == "..") {
      TOKRL_FAIL() << source << ": MANIFEST line " << line_number
                   << " is not '<file> <size> <crc32c>'";
    }
    if (!entries
             .emplace(name, ManifestEntry{static_cast<uint64_t>(size),
                                          static_cast<uint32_t>(crc)})
             .second) {
      TOKRL_FAIL() << source << ": MANIFEST lists " << name << " twice";
    }
  }
  return entries;
}

fs::path CheckpointToLoad(const fs::path& run_dir) {
  const fs::path dir = run_dir / run_dir::kCheckpoint;
  return fs::exists(dir) ? dir : run_dir / run_dir::kCheckpointOld;
}

std::map<std::string, std::string> ReadCheckpoint(
    const fs::path& run_dir, const std::vector<std::string>& required,
    fs::path* where_out) {
  const fs::path dir = CheckpointToLoad(run_dir);
  if (where_out != nullptr) *where_out = dir;
  const std::string where = "corrupt checkpoint '" + dir.string() + "'";
  if (!fs::exists(dir / run_dir::kManifest))
    TOKRL_FAIL() << where << ": MANIFEST is missing";
  std::map<std::string, std::string> files;
  for (const auto& [name, entry] :
       ParseManifest(ReadFile(dir / run_dir::kManifest), where)) {
    if (!fs::is_regular_file(dir / name))
      TOKRL_FAIL() << where << ": " << name << " is missing";
    std::string bytes = ReadFile(dir / name);
    if (bytes.size() != entry.size) {
      TOKRL_FAIL() << where << ": " << name << " has " << bytes.size()
                   << " bytes, MANIFEST says " << entry.size;
    }
    if (Crc32c(bytes) != entry.crc)
      TOKRL_FAIL() << where << ": " << name << " fails its CRC32C check";
    files[name] = std::move(bytes);
  }
  for (const auto& name : required) {
    if (files.count(name) == 0)
      TOKRL_FAIL() << where << ": MANIFEST does not list " << name;
  }
  return files;
}

}  // namespace tokrl::io
