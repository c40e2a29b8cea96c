#include "tokrl/io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/io/run_dir.h"

namespace tokrl::io {
namespace fs = std::filesystem;
namespace {

fs::path LockFile(const fs::path& run_dir) { return run_dir / run_dir::kLock; }

// The pid the holder wrote, or -1 if unreadable.
pid_t ReadPid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return -1;
  return static_cast<pid_t>(std::strtol(buffer, nullptr, 10));
}

}  // namespace

RunLock RunLock::Acquire(const fs::path& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) {
    TOKRL_FAIL() << "cannot create run directory '" << run_dir.string()
                 << "': " << ec.message();
  }
  const fs::path file = LockFile(run_dir);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    TOKRL_FAIL() << "cannot open the lock file '" << file.string()
                 << "': " << std::strerror(errno);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const pid_t holder = ReadPid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      TOKRL_FAIL() << "run directory '" << run_dir.string()
                   << "' is in use by another tokrl process"
                   << (holder > 0 ? " (pid " + std::to_string(holder) + ")"
                                  : std::string())
                   << "; wait for it to end or stop it first";
    }
    TOKRL_FAIL() << "cannot lock '" << file.string()
                 << "': " << std::strerror(err);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    TOKRL_FAIL() << "cannot write the lock file '" << file.string()
                 << "': " << std::strerror(err);
  }
  return RunLock(fd);
}

std::optional<pid_t> RunLock::Holder(const fs::path& run_dir) {
  const int fd = ::open(LockFile(run_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    holder = ReadPid(fd);
  }
  ::close(fd);  // releases the probe's shared lock, if it got one
  return holder;
}

RunLock::RunLock(RunLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tokrl::io
