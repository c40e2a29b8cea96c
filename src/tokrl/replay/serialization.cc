#include "tokrl/replay/serialization.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"

namespace tokrl {

void ChunkChecksum::Add(const void* data, size_t size) {
  // Word-at-a-time multiply-xorshift: fast enough to hash gigabytes of frames
  // at disk speed; it only has to catch accidental corruption and truncation.
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (size * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    h = (h ^ word) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  for (; i < size; ++i) {
    h = (h ^ bytes[i]) * 0x100000001B3ull;
  }
  uint64_t mix = state_ ^ h;
  state_ = SplitMix64(mix);
}

// ---- writer -----------------------------------------------------------------

ReplayFileWriter::ReplayFileWriter(std::filesystem::path path)
    : path_(std::move(path)) {
  // A hidden temporary next to the destination (same file system, so the
  // final rename is atomic); the pid keeps concurrent writers apart.
  std::string tmp_name = ".";
  tmp_name += path_.filename().string();
  tmp_name += ".tmp.";
  tmp_name += std::to_string(::getpid());
  tmp_path_ = path_.parent_path() / tmp_name;
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (file_ == nullptr) {
    Fail(std::string("cannot open for writing: ") + std::strerror(errno));
  }
}

ReplayFileWriter::~ReplayFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(tmp_path_, ignored);
  }
}

void ReplayFileWriter::Fail(const std::string& problem) const {
  TOKRL_FAIL() << "replay file '" << path_.string() << "': " << problem;
  __builtin_unreachable();
}

void ReplayFileWriter::WriteBytes(const void* data, size_t size) {
  TOKRL_CHECK(file_ != nullptr && !committed_) << "write after Commit";
  checksum_.Add(data, size);
  if (size > 0 && std::fwrite(data, 1, size, file_) != size) {
    Fail(std::string("write failed: ") + std::strerror(errno));
  }
}

void ReplayFileWriter::Commit() {
  const uint64_t sum = checksum_.value();
  if (std::fwrite(&sum, 1, sizeof(sum), file_) != sizeof(sum) ||
      std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    Fail(std::string("write failed: ") + std::strerror(errno));
  }
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) Fail(std::string("close failed: ") + std::strerror(errno));
  std::error_code error;
  std::filesystem::rename(tmp_path_, path_, error);
  if (error) Fail("cannot rename temporary file: " + error.message());
  committed_ = true;
  // Make the rename itself durable (best effort: some file systems refuse
  // fsync on directories).
  const std::filesystem::path dir =
      path_.parent_path().empty() ? "." : path_.parent_path();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

// ---- reader -----------------------------------------------------------------

ReplayFileReader::ReplayFileReader(std::filesystem::path path)
    : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    Fail(std::string("cannot open for reading: ") + std::strerror(errno));
  }
  std::error_code error;
  file_size_ = static_cast<int64_t>(std::filesystem::file_size(path_, error));
  if (error) Fail("cannot stat: " + error.message());
}

ReplayFileReader::~ReplayFileReader() {
  if (file_ != nullptr) std::fclose(file_);
}

void ReplayFileReader::Fail(const std::string& problem) const {
  TOKRL_FAIL() << "replay file '" << path_.string() << "': " << problem;
  __builtin_unreachable();
}

void ReplayFileReader::ReadBytes(void* data, size_t size, const char* what) {
  if (offset_ + static_cast<int64_t>(size) > file_size_ ||
      (size > 0 && std::fread(data, 1, size, file_) != size)) {
    Fail("truncated file: " + std::to_string(size) + " bytes of '" + what +
         "' expected at offset " + std::to_string(offset_) +
         " but the file has " + std::to_string(file_size_) + " bytes");
  }
  offset_ += static_cast<int64_t>(size);
  checksum_.Add(data, size);
}

int64_t ReplayFileReader::ReadArrayLength(int64_t expected, int64_t max_count,
                                          const char* what) {
  const auto n = Read<int64_t>(what);
  if (expected >= 0 && n != expected) {
    Fail(std::string("'") + what + "' has " + std::to_string(n) +
         " elements, expected " + std::to_string(expected));
  }
  if (n < 0 || n > max_count) {
    Fail(std::string("'") + what + "' has " + std::to_string(n) +
         " elements, expected at most " + std::to_string(max_count));
  }
  return n;
}

void ReplayFileReader::Finish() {
  const uint64_t computed = checksum_.value();
  uint64_t stored = 0;
  if (offset_ + static_cast<int64_t>(sizeof(stored)) > file_size_ ||
      std::fread(&stored, 1, sizeof(stored), file_) != sizeof(stored)) {
    Fail("truncated file: checksum missing at offset " +
         std::to_string(offset_));
  }
  offset_ += sizeof(stored);
  if (stored != computed) Fail("checksum mismatch (file is corrupt)");
  if (offset_ != file_size_) {
    Fail(std::to_string(file_size_ - offset_) +
         " unexpected trailing bytes after the checksum");
  }
}

}  // namespace tokrl
