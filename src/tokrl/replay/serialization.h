// Binary files for replay state (ReplayBuffer::Save/Load and its parts).
//
// ReplayFileWriter streams to a hidden temporary file next to <path>
// (".<name>.tmp.<pid>") and Commit() appends a checksum, flushes, fsyncs,
// renames it onto <path> and fsyncs the directory, so <path> is always either
// the previous complete file or the new complete file, never a torn one. If
// the writer is destroyed without Commit (an exception while saving), the
// temporary file is removed. (Same guarantees as io/atomic_file.h, but
// streamed: a replay buffer can be gigabytes and is not copied into one
// in-memory blob first.)
//
// ReplayFileReader reads the same sequence of values back. Every failure
// (missing file, truncation, a size that does not match, checksum mismatch,
// trailing bytes) throws tokrl::Error naming the file and the problem.
//
// Values are written in host byte order (little-endian on every platform
// tokrl targets). The checksum is a 64-bit hash over every written value in
// order; the reader must issue exactly the same sequence of Read* calls as the
// writer's Write* calls (each call is hashed as one chunk).
#ifndef TOKRL_REPLAY_SERIALIZATION_H_
#define TOKRL_REPLAY_SERIALIZATION_H_

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace tokrl {

// Incremental checksum: each chunk is hashed word-wise, then folded in.
class ChunkChecksum {
 public:
  void Add(const void* data, size_t size);
  uint64_t value() const { return state_; }

 private:
  uint64_t state_ = 0x6A09E667F3BCC908ull;
};

class ReplayFileWriter {
 public:
  explicit ReplayFileWriter(std::filesystem::path path);
  ReplayFileWriter(const ReplayFileWriter&) = delete;
  ReplayFileWriter& operator=(const ReplayFileWriter&) = delete;
  ~ReplayFileWriter();

  void WriteBytes(const void* data, size_t size);
  template <typename T>
  void Write(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    WriteBytes(&value, sizeof(T));
  }
  // A length (int64) followed by the elements.
  template <typename T>
  void WriteArray(std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    Write(static_cast<int64_t>(values.size()));
    WriteBytes(values.data(), values.size() * sizeof(T));
  }
  template <typename T>
  void WriteArray(const std::vector<T>& values) {
    WriteArray(std::span<const T>(values));
  }

  // Writes the checksum and atomically replaces the destination file.
  void Commit();

 private:
  [[noreturn]] void Fail(const std::string& problem) const;

  std::filesystem::path path_, tmp_path_;
  std::FILE* file_ = nullptr;
  ChunkChecksum checksum_;
  bool committed_ = false;
};

class ReplayFileReader {
 public:
  explicit ReplayFileReader(std::filesystem::path path);
  ReplayFileReader(const ReplayFileReader&) = delete;
  ReplayFileReader& operator=(const ReplayFileReader&) = delete;
  ~ReplayFileReader();

  // `what` names the field in error messages.
  void ReadBytes(void* data, size_t size, const char* what);
  template <typename T>
  T Read(const char* what) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    ReadBytes(&value, sizeof(T), what);
    return value;
  }
  // Reads an array written by WriteArray into *out. Its length must equal
  // `expected` when expected >= 0, else lie in [0, max_count].
  template <typename T>
  void ReadArray(std::vector<T>* out, int64_t expected, int64_t max_count,
                 const char* what) {
    static_assert(std::is_trivially_copyable_v<T>);
    const int64_t n = ReadArrayLength(expected, max_count, what);
    out->resize(static_cast<size_t>(n));
    ReadBytes(out->data(), static_cast<size_t>(n) * sizeof(T), what);
  }
  template <typename T>
  void ReadArray(std::vector<T>* out, int64_t expected, const char* what) {
    ReadArray(out, expected, expected, what);
  }

  // Verifies the trailing checksum and that the file ends there.
  void Finish();

  // Throws tokrl::Error "replay file '<path>': <problem>".
  [[noreturn]] void Fail(const std::string& problem) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  int64_t ReadArrayLength(int64_t expected, int64_t max_count,
                          const char* what);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  int64_t offset_ = 0;
  int64_t file_size_ = 0;
  ChunkChecksum checksum_;
};

}  // namespace tokrl

#endif  // TOKRL_REPLAY_SERIALIZATION_H_
