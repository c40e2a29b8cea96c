#include "tokrl/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "tokrl/core/check.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

// strerror() is not thread-safe; the error_category message is.
std::string ErrnoMessage(int err) {
  return std::system_category().message(err);
}

[[noreturn]] void FailWrite(const fs::path& path, const char* step, int err) {
  TOKRL_FAIL() << "cannot write '" << path.string() << "': " << step << ": "
               << ErrnoMessage(err);
}

[[noreturn]] void FailRead(const fs::path& path, const char* step, int err) {
  TOKRL_FAIL() << "cannot read '" << path.string() << "': " << step << ": "
               << ErrnoMessage(err);
}

void WriteAll(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      FailWrite(path, "write to temporary file failed", errno);
    }
    // write() may be partial (signals, file size limits); loop until done or
    // an error is reported.
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

// Best effort: some file systems refuse fsync on a directory (EINVAL), and by
// then the new contents are complete either way.
void SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void WriteFileAtomic(const fs::path& path, std::string_view bytes) {
  TOKRL_CHECK(path.has_filename())
      << "cannot write '" << path.string() << "': not a file name";
  const fs::path dir =
      path.has_parent_path() ? path.parent_path() : fs::path(".");

  // The temporary file lives next to the target so rename() stays within one
  // file system (and so is atomic). O_EXCL plus a per-process counter keeps
  // concurrent writers, including other threads, from sharing a temp file.
  static std::atomic<uint64_t> counter{0};
  fs::path tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    // Appended piecewise: GCC 12 reports a false -Wrestrict for
    // "literal" + std::string&& (GCC bug 105329).
    std::string name(".");
    name.append(path.filename().string())
        .append(".tmp.")
        .append(std::to_string(::getpid()))
        .append(".")
        .append(std::to_string(counter++));
    tmp = dir / name;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt >= 100)) {
      FailWrite(path, "cannot create temporary file", errno);
    }
  }

  try {
    WriteAll(fd, bytes, path);
    if (::fsync(fd) != 0) FailWrite(path, "fsync failed", errno);
    const int closed = ::close(fd);
    fd = -1;
    // close() can report deferred write errors (e.g. on NFS).
    if (closed != 0) FailWrite(path, "close failed", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      FailWrite(path, "rename failed", errno);
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  SyncDirectory(dir);
}

std::string ReadFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) FailRead(path, "open failed", errno);
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      FailRead(path, "open failed", EISDIR);
    }
    // Only a hint: the file may grow or shrink while being read.
    if (st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  }
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      FailRead(path, "read failed", err);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace tokrl::io
