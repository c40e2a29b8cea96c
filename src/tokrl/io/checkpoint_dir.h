// The checkpoint folder of a run: named files, each listed with its size
// and CRC32C in a MANIFEST, swapped into place so that a crash never leaves
// a partial checkpoint. Torch-free: the trainer fills the files with its
// own bytes (networks, replay, trainer state).
//
// Layout under run_dir:
//   checkpoint/        the current checkpoint: MANIFEST + the files
//   checkpoint.tmp/    a checkpoint being written (removed on failure)
//   checkpoint.old/    the previous one, only while the new one is swapped
//                      in (a crash then leaves it as the one to load)
//
// MANIFEST: one line per file, "<name> <size> <crc32c>", names without
// '/' or spaces.
#ifndef TOKRL_IO_CHECKPOINT_DIR_H_
#define TOKRL_IO_CHECKPOINT_DIR_H_

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tokrl::io {

// Whether run_dir holds a checkpoint to load (checkpoint/ or, after a crash
// mid-swap, checkpoint.old/).
bool HasCheckpoint(const std::filesystem::path& run_dir);

// The folder a load reads: checkpoint/, or checkpoint.old/ when a crash
// came mid-swap.
std::filesystem::path CheckpointToLoad(const std::filesystem::path& run_dir);

// Writes a new checkpoint: `write(tmp_dir)` writes the files named in
// `names` into tmp_dir, then the MANIFEST is written and the folder swapped
// in, every file and folder fsync'ed. Any failure (a full disk) is a
// tokrl::Error saying the previous checkpoint is intact; checkpoint.tmp/
// is removed.
void WriteCheckpoint(
    const std::filesystem::path& run_dir, const std::vector<std::string>& names,
    const std::function<void(const std::filesystem::path&)>& write);

// The files of run_dir's checkpoint, each verified against the MANIFEST
// (present, size, CRC32C), and every name in `required` present. A missing,
// malformed or mismatched file is a tokrl::Error naming the checkpoint and
// the problem. `where`, if given, receives the folder read.
std::map<std::string, std::string> ReadCheckpoint(
    const std::filesystem::path& run_dir,
    const std::vector<std::string>& required,
    std::filesystem::path* where = nullptr);

// Parses MANIFEST text into name -> (size, crc); `source` names it in
// errors. Exposed for tests.
struct ManifestEntry {
  uint64_t size = 0;
  uint32_t crc = 0;
};
std::map<std::string, ManifestEntry> ParseManifest(const std::string& text,
                                                   const std::string& source);

}  // namespace tokrl::io

#endif  // TOKRL_IO_CHECKPOINT_DIR_H_
